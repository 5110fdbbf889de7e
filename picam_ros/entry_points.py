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

"""The console scripts: quiet on a Ctrl-C that comes while the program is still loading.

Loading numpy, rclpy and the engine takes a few tenths of a second (more on a busy machine);
a SIGINT then used to print a ``KeyboardInterrupt`` traceback from deep inside an import. Each
entry point here loads its program with SIGINT turned into a quiet exit (status 130, as a shell
reports Ctrl-C), then hands over to the program's ``main()``, which installs its own handling.
The programs are loaded by name (``importlib``) precisely so that this module stays cheap to
import: that is what makes the window before the handler is installed small.
"""

from __future__ import annotations

import importlib
import signal
import sys
from typing import Any, NoReturn

from picam_ros.shutdown import EXIT_CONFIG_ERROR

__all__ = ['camera_node', 'centroid_node', 'machine_node', 'operator_node', 'runner']

_INTERRUPTED = 128 + signal.SIGINT


def _quiet_exit(signum: int, _frame: Any) -> NoReturn:
    raise SystemExit(_INTERRUPTED)


#: How to get a third-party package a program imports, by its import name.
_INSTALL_HINTS = {
    'aiohttp': 'rosdep key python3-aiohttp, or pip install aiohttp',
    'PIL': 'rosdep key python3-pil, or pip install Pillow',
    'numpy': 'rosdep key python3-numpy, or pip install numpy',
    'yaml': 'rosdep key python3-yaml, or pip install PyYAML',
    'rclpy': 'source a ROS 2 setup.bash',
}


def _run(module: str) -> int:
    previous = signal.signal(signal.SIGINT, _quiet_exit)
    try:
        main = importlib.import_module(module).main
    except ModuleNotFoundError as exc:
        missing = (exc.name or '').split('.')[0]
        if not missing or missing == 'picam_ros':
            raise
        hint = _INSTALL_HINTS.get(missing, f'pip install {missing}')
        print(f'{module.rsplit(".", 1)[-1]}: needs the Python package {missing!r} ({hint})',
              file=sys.stderr)
        return EXIT_CONFIG_ERROR   # a missing package is no camera loss: launch does not respawn
    finally:
        signal.signal(signal.SIGINT, previous)
    return main()


def runner() -> int:
    """``picam-ros`` / ``python -m picam_ros``: the standalone runner."""
    return _run('picam_ros.cli')


def camera_node() -> int:
    """``ros2 run picam_ros camera_node``."""
    return _run('picam_ros.camera_node')


def centroid_node() -> int:
    """``ros2 run picam_ros centroid_node``."""
    return _run('picam_ros.centroid_node')


def machine_node() -> int:
    """``ros2 run picam_ros machine_node``."""
    return _run('picam_ros.machine_node')


def operator_node() -> int:
    """``ros2 run picam_ros operator_node``: the operator page."""
    return _run('picam_ros.operator_page.operator_node')
