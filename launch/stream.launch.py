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
centroids, debug_image (see README). The centroid node reads camera/image_throttled,
so ``centroid_rate_hz`` sets how often centroids are computed; frames in between are not sent.
"""

import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration

HERE = os.path.dirname(os.path.abspath(__file__))
CAMERA_ARGUMENTS = ('source', 'width', 'height', 'fps', 'camera', 'stream', 'centroid_rate_hz')
SHARED_ARGUMENTS = ('params_file', 'namespace', 'log_level')
ARGUMENTS = (
    ('source', '', 'frame source: synthetic, rpicam or ffmpeg (empty: from the parameter files)'),
    ('width', '', 'frame width in pixels'),
    ('height', '', 'frame height in pixels'),
    ('fps', '', 'frames per second'),
    ('camera', '', 'rpicam-vid camera index'),
    ('stream', '', 'true/false: live H.264 stream through MediaMTX for browsers'),
    ('centroid_rate_hz', '', 'how often centroids are computed (camera/image_throttled rate)'),
    ('image', 'camera/image_throttled', 'image topic the centroid node processes'),
    ('params_file', '', 'YAML parameter file loaded after config/picam.yaml'),
    ('namespace', '', 'namespace of the nodes, one per camera (e.g. board)'),
    ('log_level', 'info', 'log level: debug, info, warn, error or fatal'),
)


def include(file_name, names):
    return IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(HERE, file_name)),
        launch_arguments=[(name, LaunchConfiguration(name)) for name in names])


def generate_launch_description():
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=text)
         for name, default, text in ARGUMENTS]
        + [include('camera.launch.py', CAMERA_ARGUMENTS + SHARED_ARGUMENTS),
           include('centroids.launch.py', ('image',) + SHARED_ARGUMENTS)])
