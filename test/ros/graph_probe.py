# Copyright 2026 picam_ros maintainers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""The tests' own node on a real graph: subscribe, call services, spin until something holds.

Every wait is a failure guard, never a measurement: a test goes on as soon as its condition
holds, and ``timeout`` only bounds how long a broken graph can keep it.
"""

from collections.abc import Callable
import time

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import qos_profile_sensor_data

GUARD_S = 30.0
STEP_S = 0.05
RESEND_S = 5.0


class GraphProbe:
    """A node of the test's own on an executor that may also spin the nodes under test.

    ``context``: a context of its own (the test then inits and shuts it down); ``nodes``: nodes
    of this process to spin together with the probe (a node under test created in-process).
    """

    def __init__(self, name: str, context=None, nodes: tuple = ()) -> None:
        self.node = rclpy.create_node(name, context=context)
        self.executor = SingleThreadedExecutor(context=context)
        for node in (self.node, *nodes):
            self.executor.add_node(node)

    def listen(self, msg_type: type, topic: str, qos=qos_profile_sensor_data) -> list:
        """Subscribe to ``topic``; return the list the messages are appended to."""
        messages: list = []
        self.node.create_subscription(msg_type, topic, messages.append, qos)
        return messages

    def spin_until(self, condition: Callable[[], object], timeout: float = GUARD_S,
                   alive: Callable[[], bool] | None = None) -> bool:
        """Spin until ``condition()`` holds; False after ``timeout`` or once ``alive()`` is not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (alive is None or alive()):
            if condition():
                return True
            self.executor.spin_once(timeout_sec=STEP_S)
        return bool(condition())

    def call(self, service_type: type, name: str, request, timeout: float = GUARD_S):
        """Call service ``name`` once it is there; return its response.

        A request unanswered for ``RESEND_S`` is sent again (the services the tests call are
        idempotent): ``service_is_ready()`` can be true before the server has discovered this
        client's response reader, and DDS then drops the response (on a loaded host discovery
        can take longer than the server waits for it).
        """
        client = self.node.create_client(service_type, name)
        try:
            assert self.spin_until(client.service_is_ready, timeout), (
                f'service {name} never appeared')
            deadline = time.monotonic() + timeout
            while True:
                future = client.call_async(request)
                resend_at = min(time.monotonic() + RESEND_S, deadline)
                if self.spin_until(future.done, resend_at - time.monotonic()):
                    return future.result()
                client.remove_pending_request(future)
                # Back before resend_at: spin_until's alive() said the server's process ended.
                assert time.monotonic() >= resend_at, f'service {name}: its process ended'
                assert time.monotonic() < deadline, f'service {name} did not answer'
        finally:
            self.node.destroy_client(client)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
