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
"""

from __future__ import annotations

import importlib
import sys

from picam_ros.core.stop_request import EXIT_CONFIG_ERROR, EXIT_STOPPED, StopRequest

__all__ = ['camera_node', 'centroid_node', 'machine_node', 'operator_node', 'operator_page',
           'runner']

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
    if stop.is_set():   # recorded before this entry point (a record installed earlier)
        return EXIT_STOPPED
    return main()


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
