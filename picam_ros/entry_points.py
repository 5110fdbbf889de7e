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

"""The console scripts: a stop signal is heard from the first line of the program on.

Loading numpy, rclpy and the engine takes a few tenths of a second (more on a busy machine).
Each entry point first installs the process's stop record (:mod:`picam_ros.core.stop_request`): a
SIGINT or SIGTERM that comes while the program loads ends the process at once with status
``EXIT_STOPPED`` (nothing is started yet, and nothing is raised into an import); once loaded,
the program's ``main()`` takes the record over and checks it at its own points.
The programs are loaded by name (``importlib``), and this module imports nothing else of
picam_ros, precisely so that the window before the record is installed stays as short as the
interpreter's own start-up.

``python -m <program module>`` (``python -m picam_ros.ros.camera_node``) does not come through
an entry point: the interpreter runs the module's own imports first. The package's
``__init__`` therefore calls :func:`guard_module_run`, which installs the same record while
Python is still locating such a module (its parent packages are imported before it), and the
module's ``__main__`` block hands over to :func:`run_as_main`.

Once the program's ``main()`` has returned, everything it started is stopped (children reaped,
threads joined, the ROS node and context shut down), and the process ends at once
(:func:`_end`): the interpreter's own finalisation after a ROS node (freeing every module, and
Fast DDS destroying its singletons, which joins their threads) took 210-590 ms at a load of
10 on two cores, against 6-13 ms for ending at once: half of a Ctrl-C stop budget spent after
the work was done.
"""

from __future__ import annotations

import atexit
from collections.abc import Callable
import importlib
import os
import sys
import threading

from picam_ros.core.stop_request import EXIT_CONFIG_ERROR, EXIT_STOPPED, StopRequest

__all__ = ['PROGRAM_MODULES', 'camera_node', 'centroid_node', 'guard_module_run',
           'machine_node', 'operator_node', 'operator_page', 'run_as_main', 'runner']

#: The modules that are programs when run with ``python -m`` (those with a ``__main__``).
PROGRAM_MODULES = frozenset({
    'picam_ros', 'picam_ros.cli', 'picam_ros.operator_page',
    'picam_ros.operator_page.operator_node', 'picam_ros.ros.camera_node',
    'picam_ros.ros.centroid_node', 'picam_ros.ros.machine_node'})

#: How to get a third-party package a program imports, by its import name.
_INSTALL_HINTS = {
    'aiohttp': 'rosdep key python3-aiohttp, or pip install aiohttp',
    'PIL': 'rosdep key python3-pil, or pip install Pillow',
    'numpy': 'rosdep key python3-numpy, or pip install numpy',
    'yaml': 'rosdep key python3-yaml, or pip install PyYAML',
    'rclpy': 'source a ROS 2 setup.bash',
}


def _run(module: str, program: str = '') -> int:
    stop = StopRequest.install(exit_at_once=EXIT_STOPPED)   # loading: nothing to stop yet
    try:
        main = importlib.import_module(module).main
    except ModuleNotFoundError as exc:
        missing = (exc.name or '').split('.')[0]
        if not missing or missing == 'picam_ros':
            raise
        hint = _INSTALL_HINTS.get(missing, f'pip install {missing}')
        program = program or module.rsplit('.', 1)[-1]
        print(f'{program}: needs the Python package {missing!r} ({hint})', file=sys.stderr)
        return EXIT_CONFIG_ERROR   # a missing package is no camera loss: launch does not respawn
    finally:
        stop.defer()
    return _start(stop, main)


def _start(stop: StopRequest, main: Callable[[], int | None]) -> int:
    if stop.is_set():   # recorded before this entry point (a record installed earlier)
        return EXIT_STOPPED
    return _end(main() or 0)


def _end(status: int) -> int:
    """End the process with ``status`` now that the program's ``main()`` returned.

    What the interpreter would still do is run the ``atexit`` functions (done here: they
    flush log files, for instance), join threads the program left running (none, or this
    returns ``status`` and lets it), and then free every module and let C++ libraries
    destroy their statics: for a ROS node the bulk of the time from Ctrl-C to the exit, and
    nothing in it that a stopped program still needs (see the module).
    """
    main_thread = threading.main_thread()
    if any(not thread.daemon and thread is not main_thread and thread.is_alive()
           for thread in threading.enumerate()):
        return status
    atexit._run_exitfuncs()   # what the interpreter runs first at exit, in its order
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):   # closed or broken: nothing more can reach it
            pass
    os._exit(status)


def guard_module_run() -> None:
    """Install the loading-time stop record when a program module runs with ``python -m``.

    Called by the package's ``__init__``, which Python imports before it runs the module
    named after ``-m``: at that moment ``sys.argv[0]`` is ``'-m'`` (the documented
    placeholder while the module is located). Only the modules in ``PROGRAM_MODULES`` are
    guarded: another package's program that imports picam_ros keeps its own signal handling.
    """
    argv = getattr(sys, 'orig_argv', [])
    if sys.argv[:1] != ['-m'] or '-m' not in argv[:-1]:
        return
    if argv[argv.index('-m') + 1] in PROGRAM_MODULES:
        StopRequest.install(exit_at_once=EXIT_STOPPED)


def run_as_main(main: Callable[[], int | None]) -> int:
    """``python -m <program module>``: run its ``main()`` as its entry point would.

    The module's imports ran under the record :func:`guard_module_run` installed (a stop
    then ended the process at once); from here on stops are recorded, and one that came
    before ``main()`` ends the program with ``EXIT_STOPPED``.
    """
    stop = StopRequest.install()
    stop.defer()
    return _start(stop, main)


def runner() -> int:
    """``picam-ros`` / ``python -m picam_ros``: the standalone runner."""
    return _run('picam_ros.cli', 'picam-ros')


def camera_node() -> int:
    """``ros2 run picam_ros camera_node``."""
    return _run('picam_ros.ros.camera_node')


def centroid_node() -> int:
    """``ros2 run picam_ros centroid_node``."""
    return _run('picam_ros.ros.centroid_node')


def machine_node() -> int:
    """``ros2 run picam_ros machine_node``."""
    return _run('picam_ros.ros.machine_node')


def operator_node() -> int:
    """``ros2 run picam_ros operator_node``: the operator page."""
    return _run('picam_ros.operator_page.operator_node')


def operator_page() -> int:
    """``python -m picam_ros.operator_page``: the operator page without ROS."""
    return _run('picam_ros.operator_page.standalone', 'picam_ros.operator_page')
