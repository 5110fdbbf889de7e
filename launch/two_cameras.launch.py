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

"""Two cameras as on the pick-and-place machine: /board looks down, /component looks up.

    ros2 launch picam_ros two_cameras.launch.py source:=rpicam

Each camera is stream.launch.py in its own namespace, with config/two_cameras.yaml on top of
config/picam.yaml: camera indices, the component camera's --vflip, one MediaMTX (started by
the board camera) serving both stream paths, and a chroma-gated ``leads`` profile for the
component camera. Topics: /board/centroids, /component/centroids, /board/camera/image_raw...
Each camera gets its own operator page: board on :8080, component on :8081 (``operator:=false``:
none).
"""

import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.substitutions import FindPackageShare

HERE = os.path.dirname(os.path.abspath(__file__))
ARGUMENTS = (
    ('source', '', 'frame source for both cameras: synthetic, rpicam or ffmpeg'),
    ('stream', '', 'true/false: live H.264 streams through MediaMTX'),
    ('log_level', 'info', 'log level: debug, info, warn, error or fatal'),
    ('operator', 'true', 'true/false: an operator page for each camera'),
)
#: Each camera's operator page has a port of its own.
PAGES = (
    ('board_operator_port', '8080', 'TCP port of the operator page of the board camera'),
    ('component_operator_port', '8081', 'TCP port of the operator page of the component camera'),
)


def camera(namespace, operator_port):
    two_cameras = [FindPackageShare('picam_ros'), '/config/two_cameras.yaml']
    return IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(HERE, 'stream.launch.py')),
        launch_arguments=[('namespace', namespace), ('params_file', two_cameras),
                          ('operator_port', LaunchConfiguration(operator_port))]
        + [(name, LaunchConfiguration(name)) for name, _, _ in ARGUMENTS])


def generate_launch_description():
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=text)
         for name, default, text in ARGUMENTS + PAGES]
        + [camera('board', 'board_operator_port'),
           camera('component', 'component_operator_port')])
