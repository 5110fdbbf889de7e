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

"""Launch the camera node: frames on camera/image_raw, camera/image_throttled, camera_info.

    ros2 launch picam_ros camera.launch.py source:=rpicam width:=1920 height:=1920

Parameters come from config/picam.yaml, then ``params_file``, then the non-empty arguments
below (an empty argument keeps the value from the files).
"""

from launch import LaunchDescription
from launch.actions import EmitEvent, OpaqueFunction, RegisterEventHandler
from launch.event_handlers import OnProcessExit
from launch.events import matches_action
from launch.events.process import ShutdownProcess
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from picam_ros.core.shutdown import EXIT_CONFIG_ERROR
from picam_ros.ros.dds_profile import apply_default_profile
from picam_ros.ros.launch_support import (
    CAMERA_ARGUMENTS,
    CAMERA_LAUNCH_ARGUMENTS,
    COMMON_ARGUMENTS,
    declare_arguments,
    launch_flag,
    launch_overrides,
    node_environment,
    parameter_files,
)


def launch_camera(context):
    arguments = {name: LaunchConfiguration(name).perform(context)
                 for name in CAMERA_LAUNCH_ARGUMENTS}
    parameters = parameter_files(context)
    overrides = launch_overrides(arguments)
    if overrides:
        parameters.append(overrides)
    namespace = LaunchConfiguration('namespace').perform(context).strip() or None
    camera = Node(
        package='picam_ros', executable='camera_node', name='camera', namespace=namespace,
        parameters=parameters, output='screen',
        respawn=launch_flag(context, 'respawn'), respawn_delay=2.0,
        ros_arguments=['--log-level', LaunchConfiguration('log_level').perform(context)],
        additional_env=node_environment(),   # stops when launch dies
    )
    # Respawn is for a lost camera (status 1). A configuration the node cannot run (status 2)
    # fails the same way every time: cancel the pending respawn (within respawn_delay).
    no_respawn = RegisterEventHandler(OnProcessExit(
        target_action=camera,
        on_exit=lambda event, _: (
            [EmitEvent(event=ShutdownProcess(process_matcher=matches_action(camera)))]
            if event.returncode == EXIT_CONFIG_ERROR else None)))
    return [camera, no_respawn]


def generate_launch_description():
    apply_default_profile()   # FastDDS large-frame profile unless the user has one
    return LaunchDescription(
        declare_arguments(CAMERA_ARGUMENTS + COMMON_ARGUMENTS)
        + [OpaqueFunction(function=launch_camera)])
