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

Topics (in ``namespace``): camera/image_raw, camera/image_throttled, camera/camera_info,
centroids, debug_image (see README); the operator page on http://127.0.0.1:8080/
(``operator:=false``: none). The centroid node reads camera/image_throttled,
so ``centroid_rate_hz`` sets how often centroids are computed; frames in between are not sent.
"""

import os

from launch import LaunchDescription
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration

from picam_ros.launch_support import (
    CAMERA_ARGUMENTS,
    CENTROID_ARGUMENTS,
    COMMON_ARGUMENTS,
    declare_arguments,
)

HERE = os.path.dirname(os.path.abspath(__file__))


def include(file_name, names):
    return IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(HERE, file_name)),
        launch_arguments=[(name, LaunchConfiguration(name)) for name in names])


def generate_launch_description():
    return LaunchDescription(
        declare_arguments(CAMERA_ARGUMENTS + CENTROID_ARGUMENTS + COMMON_ARGUMENTS
                          + ('operator',))
        + [include('camera.launch.py', CAMERA_ARGUMENTS + COMMON_ARGUMENTS),
           include('centroids.launch.py', CENTROID_ARGUMENTS + COMMON_ARGUMENTS),
           include('operator.launch.py', ('operator',) + COMMON_ARGUMENTS)])
