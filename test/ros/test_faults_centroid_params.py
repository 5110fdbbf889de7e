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

"""Live parameters that cannot fit the frames never end the centroid node (a real process).

The node runs as its own process; a probe publishes synthetic frames and sets parameters
through the node's real ``set_parameters`` service, as ``ros2 param set`` does.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

rclpy = pytest.importorskip(
    'rclpy', reason='rclpy is not installed: the centroid node tests need a sourced ROS 2')

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402, I100
from rcl_interfaces.msg import Parameter as ParameterMsg  # noqa: E402
from rcl_interfaces.msg import ParameterType, ParameterValue  # noqa: E402
from rcl_interfaces.srv import SetParameters  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import Image, PointCloud2  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from picam_ros.core.payloads import fill_image, image_payload  # noqa: E402
from picam_ros.sources.synthetic import SyntheticConfig, SyntheticSource  # noqa: E402

pytestmark = pytest.mark.ros

GUARD_S = 30.0   # failure guard only
WIDTH, HEIGHT = 320, 240
DOMAIN = 20 + os.getpid() % 150


def integer_array(values):
    return ParameterValue(type=ParameterType.PARAMETER_INTEGER_ARRAY, integer_array_value=values)


def integer(value):
    return ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=value)


class Probe:
    """Publishes frames to a centroid node process, sets its parameters, reads its output."""

    def __init__(self, log_path) -> None:
        env = dict(os.environ, ROS_DOMAIN_ID=str(DOMAIN), PYTHONUNBUFFERED='1')
        self.log_path = log_path
        with open(log_path, 'wb') as log:
            self.process = subprocess.Popen(
                [sys.executable, '-m', 'picam_ros.ros.centroid_node', '--ros-args',
                 '-p', 'diagnostics_period:=0.2'],
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.context = Context()
        rclpy.init(context=self.context, domain_id=DOMAIN)
        self.node = rclpy.create_node('roi_probe', context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.images = self.node.create_publisher(Image, '/image', qos_profile_sensor_data)
        self.clouds: list[PointCloud2] = []
        self.node.create_subscription(PointCloud2, '/centroids', self.clouds.append, 10)
        self.diagnostics: list[DiagnosticStatus] = []
        self.node.create_subscription(
            DiagnosticArray, '/diagnostics',
            lambda msg: self.diagnostics.extend(
                s for s in msg.status if s.name.endswith('centroids: centroids')), 10)
        self.client = self.node.create_client(SetParameters, '/centroids/set_parameters')
        self.source = SyntheticSource(SyntheticConfig(width=WIDTH, height=HEIGHT, paced=False))
        self.sequence = 0
        assert self.spin_until(lambda: self.client.service_is_ready()), self.log()

    def log(self) -> str:
        return self.log_path.read_text(errors='replace')

    def spin_until(self, condition, feed=False) -> bool:
        deadline = time.monotonic() + GUARD_S
        while time.monotonic() < deadline and not condition():
            if self.process.poll() is not None:
                return condition()
            if feed:
                self.publish_frame()
            self.executor.spin_once(timeout_sec=0.02)
        return condition()

    def publish_frame(self) -> None:
        self.sequence += 1
        header = Header(frame_id='probe')
        header.stamp.sec = self.sequence
        frame = self.source.render(self.sequence)
        self.images.publish(fill_image(Image(), image_payload(frame, 'nv21'), header))

    def set(self, **values) -> tuple[bool, str]:
        request = SetParameters.Request(parameters=[
            ParameterMsg(name=name.replace('__', '.'), value=value)
            for name, value in values.items()])
        future = self.client.call_async(request)
        assert self.spin_until(future.done), self.log()
        result = future.result().results[0]
        return result.successful, result.reason

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(GUARD_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture
def probe(tmp_path):
    probe = Probe(tmp_path / 'centroids.log')
    yield probe
    probe.close()


def test_an_roi_outside_the_known_frame_size_is_refused_at_set_time(probe):
    assert probe.spin_until(lambda: probe.clouds, feed=True), probe.log()
    ok, reason = probe.set(pads__roi=integer_array([2000, 2000, 10, 10]))
    assert not ok
    assert 'pads.roi' in reason and f'{WIDTH}x{HEIGHT}' in reason
    ok, reason = probe.set(pads__roi=integer_array([0, 0, WIDTH, HEIGHT]))
    assert ok, reason
    count = len(probe.clouds)
    assert probe.spin_until(lambda: len(probe.clouds) > count + 3, feed=True)
    assert probe.process.poll() is None, probe.log()


def test_an_roi_staged_before_any_frame_is_reported_and_skipped_not_fatal(probe):
    ok, reason = probe.set(pads__roi=integer_array([2000, 2000, 10, 10]))
    assert ok, reason   # no frame yet: the size is not known
    assert probe.spin_until(
        lambda: any('does not fit' in s.message for s in probe.diagnostics), feed=True), \
        probe.log()
    status = next(s for s in probe.diagnostics if 'does not fit' in s.message)
    assert status.level == DiagnosticStatus.ERROR and 'pads.roi' in status.message
    assert probe.process.poll() is None, probe.log()
    assert not probe.clouds   # every frame skipped for the profile that cannot run
    ok, reason = probe.set(pads__roi=integer_array([0, 0, 10, 10]))
    assert ok, reason
    assert probe.spin_until(lambda: probe.clouds, feed=True), probe.log()
    assert 'FATAL' not in probe.log() and 'Traceback' not in probe.log()


def test_no_value_the_node_accepts_ends_it(probe):
    rng = random.Random(14)
    assert probe.spin_until(lambda: probe.clouds, feed=True), probe.log()
    refused = 0
    for _ in range(60):
        x, y = rng.randrange(0, 2 * WIDTH), rng.randrange(0, 2 * HEIGHT)
        w, h = rng.randrange(0, WIDTH + 5), rng.randrange(0, HEIGHT + 5)
        ok, reason = probe.set(
            pads__roi=integer_array([x, y, w, h]) if rng.random() < 0.7 else integer_array([]),
            pads__min_area=integer(rng.randrange(0, 50)))
        refused += not ok
        assert ok or reason, 'a refusal must say why'
        for _ in range(3):
            probe.publish_frame()
            probe.executor.spin_once(timeout_sec=0.01)
        assert probe.process.poll() is None, probe.log()
    assert 0 < refused < 60
    assert 'FATAL' not in probe.log() and 'Traceback' not in probe.log()
