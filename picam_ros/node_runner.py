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

``rclpy.init`` runs inside the ``try``, so a bad ``--params-file`` is one fatal line and status 1,
like a bad parameter value or a camera that cannot start; Ctrl-C and an external shutdown end
the process cleanly with status 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException
from rclpy.impl.implementation_singleton import rclpy_implementation
from rclpy.logging import get_logger
from rclpy.node import Node

#: Errors that end a node with one line: bad parameters (ours and rclpy's), a params file rcl
#: cannot parse.
USER_ERRORS: tuple[type[BaseException], ...] = (
    ValueError, ParameterException, rclpy_implementation.RCLError)


def run_node(make_node: Callable[[], Node], name: str, args: Sequence[str] | None = None,
             errors: tuple[type[BaseException], ...] = ()) -> int:
    """Init rclpy, build the node, spin it until shutdown; the process exit status.

    ``errors`` are further exception types (e.g. a camera that cannot start) that end the node
    with one fatal line naming the problem, instead of a traceback.
    """
    node = None
    try:
        rclpy.init(args=args)
        node = make_node()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (*USER_ERRORS, *errors) as error:
        get_logger(name).fatal(str(error).splitlines()[0] if str(error) else
                               type(error).__name__)
        return 1
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
