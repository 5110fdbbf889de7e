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

"""Launch a camera with its live stream and centroid node: the whole vision side of one camera.

    ros2 launch picam_ros stream.launch.py                      # synthetic board, stream on
    ros2 launch picam_ros stream.launch.py source:=rpicam stream:=false namespace:=board
    ros2 launch picam_ros stream.launch.py centroids:=inprocess centroid_rate_hz:=25.0

Topics (in ``namespace``): camera/image_raw, camera/image_throttled, camera/camera_info,
centroids, debug_image (see README). ``centroids`` picks who computes the centroids:

- ``node`` (default): the centroid node reads camera/image_throttled, so ``centroid_rate_hz``
  sets how often centroids are computed; frames in between are not sent.
- ``inprocess``: the camera node computes them from capture (``centroids.enabled``), at
  ``centroid_rate_hz`` (``centroids.rate_hz``); no frame crosses DDS for them. The keying
  parameters are then the camera node's (``ros2 param set /camera pads.luma_min 180``).
- ``off``: no centroids.

The operator page comes too, on http://127.0.0.1:8080/ (``operator:=false``: none).
"""

import os

from launch import LaunchDescription
from launch.actions import IncludeLaunchDescription, OpaqueFunction
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration

from picam_ros.ros.launch_support import (
    CAMERA_ARGUMENTS,
    CENTROID_ARGUMENTS,
    COMMON_ARGUMENTS,
    declare_arguments,
    require_operator_page,
)

HERE = os.path.dirname(os.path.abspath(__file__))
CENTROID_MODES = ('node', 'inprocess', 'off')


def include(file_name, names, overrides=()):
    values = dict(overrides)
    return IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(HERE, file_name)),
        launch_arguments=[(name, values.get(name, LaunchConfiguration(name)))
                          for name in names])


def launch_graph(context):
    mode = LaunchConfiguration('centroids').perform(context).strip()
    if mode not in CENTROID_MODES:
        raise ValueError(f'launch argument centroids:={mode!r} is not one of '
                         f'{", ".join(CENTROID_MODES)}')
    overrides = {'inprocess_centroids': 'false'}
    if mode == 'inprocess':
        rate = (LaunchConfiguration('inprocess_rate_hz').perform(context).strip()
                or LaunchConfiguration('centroid_rate_hz').perform(context))
        overrides = {'inprocess_centroids': 'true', 'inprocess_rate_hz': rate}
    actions = [include('camera.launch.py', CAMERA_ARGUMENTS + COMMON_ARGUMENTS, overrides)]
    if mode == 'node':
        actions.append(include('centroids.launch.py', CENTROID_ARGUMENTS + COMMON_ARGUMENTS))
    # The page's keying sliders set the parameters of whichever node computes the centroids.
    actions.append(include('operator.launch.py', ('operator', 'centroid_node') + COMMON_ARGUMENTS,
                           {'centroid_node': 'camera' if mode == 'inprocess' else ''}))
    return actions


def generate_launch_description():
    return LaunchDescription(
        declare_arguments(('centroids',) + CAMERA_ARGUMENTS + CENTROID_ARGUMENTS
                          + COMMON_ARGUMENTS + ('operator',))
        # Before the camera starts: a page that cannot run stops the launch first.
        + [OpaqueFunction(function=require_operator_page),
           OpaqueFunction(function=launch_graph)])
