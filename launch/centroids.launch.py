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

"""Launch the centroid node on an image topic: centroids (PointCloud2), debug_image, diagnostics.

    ros2 launch picam_ros centroids.launch.py namespace:=board image:=camera/image_raw

By default it listens to camera/image_throttled, which the camera node publishes at
``throttle_rate_hz`` only while subscribed: frames the centroid node would not process are
never sent (rclpy serialises every message, so skipping on arrival still costs the copy).
"""


from launch import LaunchDescription
from launch.actions import OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from picam_ros.ros.dds_profile import apply_default_profile
from picam_ros.ros.launch_support import (
    CENTROID_ARGUMENTS,
    COMMON_ARGUMENTS,
    declare_arguments,
    node_environment,
    parameter_files,
)


def launch_centroids(context):
    namespace = LaunchConfiguration('namespace').perform(context).strip() or None
    return [Node(
        package='picam_ros', executable='centroid_node', name='centroids', namespace=namespace,
        parameters=parameter_files(context), output='screen',
        remappings=[('image', LaunchConfiguration('image').perform(context))],
        ros_arguments=['--log-level', LaunchConfiguration('log_level').perform(context)],
        additional_env=node_environment(),   # stops when launch dies
    )]


def generate_launch_description():
    apply_default_profile()   # FastDDS large-frame profile unless the user has one
    return LaunchDescription(
        declare_arguments(CENTROID_ARGUMENTS + COMMON_ARGUMENTS)
        + [OpaqueFunction(function=launch_centroids)])
