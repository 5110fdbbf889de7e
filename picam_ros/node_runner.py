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
"""How a picam_ros node process runs: the one ``main()`` both nodes share (ros2/demos style).

``rclpy.init`` runs inside the ``try``, so a bad ``--params-file`` is one fatal line and status
``EXIT_CONFIG_ERROR`` (2), like a bad parameter value or a camera program that is missing; a
camera lost for good while running ends it with ``EXIT_CAMERA_LOST`` (1), the one status
launch respawns on; Ctrl-C and an external shutdown end the process cleanly with status 0, and
so does the death of the launch process that started it (see
:func:`picam_ros.shutdown.stop_with_launcher`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException
from rclpy.impl.implementation_singleton import rclpy_implementation
from rclpy.logging import get_logger
from rclpy.node import Node

from picam_ros.overrides import rcl_error_text
from picam_ros.shutdown import (
    EXIT_CAMERA_LOST,
    EXIT_CONFIG_ERROR,
    stop_with_launcher,
    StopGuard,
)

#: Errors that end a node with one line: bad parameters (ours and rclpy's), a params file rcl
#: cannot parse.
USER_ERRORS: tuple[type[BaseException], ...] = (
    ValueError, ParameterException, rclpy_implementation.RCLError)


def run_node(make_node: Callable[[], Node], name: str, args: Sequence[str] | None = None,
             errors: tuple[type[BaseException], ...] = ()) -> int:
    """Init rclpy, build the node, spin it until shutdown; the process exit status.

    ``errors`` are further exception types (e.g. a camera that cannot start, or is lost for
    good) that end the node with one fatal line naming the problem, instead of a traceback.
    Raised while the node runs they mean a lost device (``EXIT_CAMERA_LOST``: launch respawns
    the node); before (and for every ``USER_ERRORS``) a configuration the node cannot run
    (``EXIT_CONFIG_ERROR``: respawning would fail the same way). From the first stop request
    on, the teardown is guarded (:class:`picam_ros.shutdown.StopGuard`): launch's second SIGINT
    is ignored instead of raising inside ``destroy_node()``, and the process ends within
    ``TEARDOWN_DEADLINE_S`` whatever its threads are doing.
    """
    node = None
    guard = StopGuard(name)
    try:
        stop_with_launcher()   # started by our launch files: stop when launch dies, too
        rclpy.init(args=args)
        node = make_node()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        guard.arm()
    except Exception as error:
        if node is not None and not rclpy.ok() and not isinstance(error, errors):
            # A stop was under way (SIGINT had shut the context down) and it broke a callback:
            # e.g. the KeyboardInterrupt landed inside rclpy's C deserializer, which reports it
            # as a TypeError. The process was asked to stop and stops: status 0, no traceback.
            guard.arm()
            return 0
        if not isinstance(error, (*USER_ERRORS, *errors)):
            raise
        lost = node is not None and isinstance(error, errors)
        status = EXIT_CAMERA_LOST if lost else EXIT_CONFIG_ERROR
        guard.arm(status)
        text = rcl_error_text(error) or type(error).__name__
        get_logger(name).fatal(text.splitlines()[0])
        return status
    finally:
        guard.arm()   # no-op when armed above; a later SIGINT/SIGTERM is ignored from here on
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
        guard.done()
    return 0
