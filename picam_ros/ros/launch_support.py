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

"""What the launch files share (they import it from the installed package).

The launch imports live inside the functions, so the package still imports without ROS.
"""

from collections.abc import Iterable, Mapping
import importlib
import math
import os
from typing import Any

from picam_ros.camera.settings import camera_parameter_rows
from picam_ros.core.shutdown import LAUNCHER_PID_ENV

#: Launch arguments that override camera parameters: argument -> (parameter, kind), from the
#: rows that name a ``launch`` argument. An empty argument leaves the parameter to the parameter
#: files (config/picam.yaml and params_file).
CAMERA_LAUNCH_ARGUMENTS: dict[str, tuple[str, str]] = {
    row.launch: (row.name, row.kind) for row in camera_parameter_rows() if row.launch}
_CAMERA_ARGUMENT_HELP = {row.launch: f'{row.description} (sets the {row.name} parameter; '
                                     f'empty: from the parameter files)'
                         for row in camera_parameter_rows() if row.launch}
_TRUE, _FALSE = ('true', '1', 'yes', 'on'), ('false', '0', 'no', 'off')


def launch_overrides(arguments: Mapping[str, str],
                     table: Mapping[str, tuple[str, str]] = CAMERA_LAUNCH_ARGUMENTS,
                     ) -> dict[str, Any]:
    """Typed parameter overrides from launch argument strings; empty arguments are skipped.

    ValueError names the argument and what it should be, before any process starts.
    """
    overrides: dict[str, Any] = {}
    for argument, (parameter, kind) in table.items():
        text = arguments.get(argument, '').strip()
        if not text:
            continue
        try:
            if kind == 'integer':
                value: Any = int(text)
            elif kind == 'double':
                value = float(text)
                if not math.isfinite(value):
                    raise ValueError
            elif kind == 'bool':
                if text.lower() not in _TRUE + _FALSE:
                    raise ValueError
                value = text.lower() in _TRUE
            else:
                value = text
        except ValueError:
            raise ValueError(f'launch argument {argument}:={text!r} is not a valid '
                             f'{kind} (it sets the {parameter} parameter)') from None
        overrides[parameter] = value
    return overrides


#: Every launch argument of camera/centroids/stream.launch.py: name -> (default, description).
#: An empty default leaves the value of the parameter files in force.
LAUNCH_ARGUMENTS: dict[str, tuple[str, str]] = {
    **{name: ('', text) for name, text in _CAMERA_ARGUMENT_HELP.items()},
    'centroids': ('node', ('where centroids are computed: node (the centroid node, on the '
                           'throttled camera topic), inprocess (inside the camera node, '
                           'straight from capture: no frame crosses DDS) or off')),
    'image': ('camera/image_throttled',
              'image topic the centroid node processes (relative to the namespace)'),
    'params_file': ('', 'YAML parameter file loaded after config/picam.yaml'),
    'namespace': ('', 'namespace of the nodes, one per camera (e.g. board)'),
    'log_level': ('info', 'log level: debug, info, warn, error or fatal'),
    'respawn': ('true', 'restart the camera node 2 s after it exits (status 1: camera lost)'),
    'operator': ('true', 'true/false: serve the operator page (operator.launch.py)'),
}
#: The arguments each launch file takes.
CAMERA_ARGUMENTS = (*CAMERA_LAUNCH_ARGUMENTS, 'respawn')
CENTROID_ARGUMENTS = ('image',)
COMMON_ARGUMENTS = ('params_file', 'namespace', 'log_level')


def declare_arguments(names: Iterable[str]) -> list[Any]:
    """``DeclareLaunchArgument`` actions for ``names``, from :data:`LAUNCH_ARGUMENTS`."""
    from launch.actions import DeclareLaunchArgument

    return [DeclareLaunchArgument(name, default_value=LAUNCH_ARGUMENTS[name][0],
                                  description=LAUNCH_ARGUMENTS[name][1]) for name in names]


def parameter_files(context: Any) -> list[str]:
    """config/picam.yaml, then params_file when given (a missing file is an error)."""
    from launch.substitutions import LaunchConfiguration
    from launch_ros.substitutions import FindPackageShare

    share = FindPackageShare('picam_ros').perform(context)
    files = [os.path.join(share, 'config', 'picam.yaml')]
    extra = LaunchConfiguration('params_file').perform(context).strip()
    if extra:
        if not os.path.isfile(extra):
            raise RuntimeError(f'params_file {extra!r} is not a file')
        files.append(extra)
    return files


def node_environment() -> dict[str, str]:
    """Environment for each node this package launches: the launcher's pid.

    With it the node stops when launch dies without stopping it (SIGTERM, SIGKILL): see
    :func:`picam_ros.core.shutdown.stop_with_launcher`. Launch files run in the launch process, so
    this is that process's pid.
    """
    return {LAUNCHER_PID_ENV: str(os.getpid())}


def launch_flag(context: Any, name: str) -> bool:
    """Read a true/false launch argument (ValueError naming it for anything else)."""
    from launch.substitutions import LaunchConfiguration

    text = LaunchConfiguration(name).perform(context)
    return bool(launch_overrides({name: text}, table={name: (name, 'bool')}).get(name, False))


#: What a launch says, in one line, when the operator page is asked for without aiohttp.
AIOHTTP_MISSING = ('the operator page needs aiohttp, which is not installed: sudo apt install '
                   'python3-aiohttp (rosdep key python3-aiohttp; pip: aiohttp>=3.8), or launch '
                   'with operator:=false for no page')


def require_operator_page(context: Any) -> list[Any]:
    """Stop a launch that asks for the operator page when aiohttp is missing, before it starts.

    An ``OpaqueFunction`` placed before every other action of a launch file that includes the
    page: launch visits actions in order (includes depth first), so raising here means no node
    was started; ``ros2 launch`` prints the reason as one line. A check inside the node would
    be one log line among many while the machine ran on without a page.
    """
    if launch_flag(context, 'operator'):
        try:   # imported, not only found: a broken install stops the launch too
            importlib.import_module('aiohttp')
        except ImportError:
            raise RuntimeError(AIOHTTP_MISSING) from None
    return []
