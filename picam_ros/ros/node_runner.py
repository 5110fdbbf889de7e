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
"""How a picam_ros node process runs: the one ``main()`` every node shares (ros2/demos style).

``rclpy.init`` runs inside the ``try``, so a bad ``--params-file`` is one fatal line and status
``EXIT_CONFIG_ERROR`` (2), like a bad parameter value or a camera program that is missing; a
camera lost for good while running ends it with ``EXIT_CAMERA_LOST`` (1), the one status
launch respawns on; SIGINT, SIGTERM and an external shutdown end the process cleanly with
``EXIT_STOPPED`` (0) whenever they come, and so does the death of the launch process that
started it (see :func:`picam_ros.core.shutdown.stop_with_launcher`).

Stop signals are recorded (:class:`picam_ros.core.stop_request.StopRequest`), never raised. While
the node is built only the record hears them (checked once it is built); from then on a
:class:`picam_ros.core.shutdown.StopWatcher` thread also shuts the context down, which wakes
the executor and ends ``spin``. rclpy's own handlers are not installed: they wake the executor
before they shut its context down, and an executor that looked in between slept on until its
next timer (up to the camera node's 1 s diagnostics period after a Ctrl-C). A
``KeyboardInterrupt`` raised into the executor used to land anywhere, e.g. inside the
constructor of an rclpy ``Task``, whose finaliser then printed ``Exception ignored in: <function
Future.__del__>: AttributeError: 'Task' object has no attribute '_exception'`` (rclpy
``task.py``: ``Future.__del__`` reads attributes ``__init__`` had not set yet).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException
from rclpy.impl.implementation_singleton import rclpy_implementation
from rclpy.logging import get_logger
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from rclpy.utilities import get_default_context

from picam_ros.core.overrides import rcl_error_text, undeclared_warnings
from picam_ros.core.shutdown import (
    EXIT_CAMERA_LOST,
    EXIT_CONFIG_ERROR,
    EXIT_STOPPED,
    stop_with_launcher,
    StopGuard,
    StopWatcher,
)
from picam_ros.core.stop_request import StopRequest

#: Errors that end a node with one line: bad parameters (ours and rclpy's), a params file rcl
#: cannot parse.
USER_ERRORS: tuple[type[BaseException], ...] = (
    ValueError, ParameterException, rclpy_implementation.RCLError)


def warn_about_undeclared(node: Node, label: str) -> None:
    """Warn once per parameter the node was given but does not declare (a misspelt name).

    Call it at the end of the node's declarations, before it starts its work: rclpy keeps such
    values without a word (``widht: 640`` in a parameter file would be silently ignored).
    """
    declared = node.list_parameters([], 0).names
    for warning in undeclared_warnings(getattr(node, '_parameter_overrides', {}), declared,
                                       label):
        node.get_logger().warning(warning)


def while_context_ok(context: Any, sink: Callable[[Any], None]) -> Callable[[Any], None]:
    """Wrap a capture-thread sink so it neither publishes on nor fails from a dead context.

    rclpy's SIGINT/SIGTERM handler shuts the context down before ``main()`` hears of it, and
    the capture threads stop only after that: a frame in flight must then be dropped quietly,
    not counted and logged as a failing sink ("publisher's context is invalid").
    """
    def guarded(frame: Any) -> None:
        if not context.ok():
            return
        try:
            sink(frame)
        except Exception:
            if context.ok():
                raise   # a real failure: counted and logged by the runtime
    return guarded


def run_node(make_node: Callable[[], Node], name: str, args: Sequence[str] | None = None,
             errors: tuple[type[BaseException], ...] = ()) -> int:
    """Init rclpy, build the node, spin it until shutdown; the process exit status.

    ``errors`` are further exception types (e.g. a camera that cannot start, or is lost for
    good) that end the node with one fatal line naming the problem, instead of a traceback.
    Raised while the node runs they mean a lost device (``EXIT_CAMERA_LOST``: launch respawns
    the node); before (and for every ``USER_ERRORS``) a configuration the node cannot run
    (``EXIT_CONFIG_ERROR``: respawning would fail the same way). A stop requested at any moment
    (before ``rclpy.init``, while the node is built, while it spins) ends it with
    ``EXIT_STOPPED``; whatever the stop broke on its way is no error. From the stop on, the
    teardown is guarded (:class:`picam_ros.core.shutdown.StopGuard`): further stop signals are
    ignored, and the process ends within ``TEARDOWN_DEADLINE_S`` whatever its threads are doing.
    """
    stop = StopRequest.install()   # before rclpy.init: the record hears every stop
    node = watcher = None
    guard = StopGuard(name)
    try:
        stop_with_launcher()   # started by our launch files: stop when launch dies, too
        if stop.is_set():
            return EXIT_STOPPED
        # The context is shut down by a stop only once the node is built: a stop while it is
        # built is recorded and heard below, instead of shutting the context down under the
        # construction (its log lines then failed to reach /rosout: "publisher's context is
        # invalid").
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
        node = make_node()
        watcher = StopWatcher(get_default_context().try_shutdown)   # from here a stop ends spin
        if not stop.is_set():
            rclpy.spin(node)
    except ExternalShutdownException:
        pass
    except Exception as error:
        if stop.is_set() or (node is not None and not rclpy.ok()
                             and not isinstance(error, errors)):
            # A stop was under way and it broke what the node was doing (e.g. a callback
            # whose deserialisation the context shutdown interrupted), or came while a
            # configuration error was on its way: the process was asked to stop, and stops
            # with the one status a stop has, without a traceback.
            return EXIT_STOPPED
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
        if watcher is not None:
            watcher.close()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
        guard.done()
    return EXIT_STOPPED
