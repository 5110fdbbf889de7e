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


"""The pick-and-place machine's vision: both cameras, composite, pads/leads, alignment.

    ros2 launch picam_ros machine.launch.py                        # synthetic scenes
    ros2 launch picam_ros machine.launch.py source:=rpicam calibration_file:=$HOME/machine.yaml

One machine node hosts the board camera (down-looking) and the component camera (up-looking,
``--vflip``), so the composite never crosses DDS. Parameters come from config/machine.yaml, then
``params_file``, then the non-empty arguments below (an empty argument keeps the files' value).
Topics: board/image_raw, component/image_raw, composite, board/centroids (pads),
component/centroids (leads), alignment, alignment/verdict; services ~/align, ~/capture_fresh,
~/calibration/*.
The operator page comes too (operator.launch.py with machine_node:=machine; operator:=false: not).
"""

import os

from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument,
    GroupAction,
    IncludeLaunchDescription,
    OpaqueFunction,
)
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from picam_ros.ros.dds_profile import apply_default_profile
from picam_ros.ros.launch_support import node_environment, require_operator_page

HERE = os.path.dirname(os.path.abspath(__file__))
MACHINE_YAML = os.path.join(os.path.dirname(HERE), 'config', 'machine.yaml')
ARGUMENTS = (
    ('source', '', 'frame source of both cameras: synthetic, rpicam or ffmpeg'),
    ('stream', '', 'true/false: stream the composite through MediaMTX (stream.enabled)'),
    ('mode', '', 'composite mode at start: normal, onlyup, onlydown or frozen'),
    ('calibration_file', '', ('machine calibration YAML, read at start and written by the '
                              'calibration steps')),
    ('footprint_file', '', ("the part's footprint YAML (expected leads, any rotation, "
                            'symmetric parts reported AMBIGUOUS)')),
    ('params_file', '', 'a parameter file loaded after config/machine.yaml'),
    ('namespace', '', 'namespace of the node and its topics'),
    ('log_level', 'info', 'log level: debug, info, warn, error or fatal'),
    ('respawn', 'false', 'true: restart the node when it exits (e.g. a camera gave up)'),
    ('operator', 'true', 'true/false: serve the operator page for this machine node'),
)


def overrides(values):
    """Parameters set by non-empty arguments."""
    result = {}
    if values['source']:
        result['board.source'] = result['component.source'] = values['source']
    if values['stream']:
        if values['stream'].lower() not in ('true', 'false'):
            raise ValueError(f"stream:={values['stream']}: expected true or false")
        result['stream.enabled'] = values['stream'].lower() == 'true'
    if values['mode']:
        result['composite.mode'] = values['mode']
    for name in ('calibration_file', 'footprint_file'):
        if values[name]:
            result[name] = os.path.expanduser(values[name])
    return result


def launch_machine(context):
    values = {name: LaunchConfiguration(name).perform(context).strip()
              for name, _, _ in ARGUMENTS}
    parameters = [MACHINE_YAML] + ([values['params_file']] if values['params_file'] else [])
    extra = overrides(values)
    if extra:
        parameters.append(extra)
    return [Node(
        package='picam_ros', executable='machine_node', name='machine',
        namespace=values['namespace'] or None, parameters=parameters, output='screen',
        respawn=values['respawn'].lower() == 'true', respawn_delay=2.0,
        ros_arguments=['--log-level', values['log_level'] or 'info'],
        additional_env=node_environment(),   # stops when launch dies
    )]


def generate_launch_description():
    apply_default_profile()   # FastDDS large-frame profile unless the user has one
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=text)
         for name, default, text in ARGUMENTS]
        # Before the machine node starts: a page that cannot run stops the launch first.
        + [OpaqueFunction(function=require_operator_page),
           OpaqueFunction(function=launch_machine), include_operator()])


def include_operator():
    """operator.launch.py driving this machine node (its own parameter files, not ours)."""
    passed = [(name, LaunchConfiguration(name)) for name in ('operator', 'namespace', 'log_level')]
    return GroupAction(scoped=True, actions=[IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(HERE, 'operator.launch.py')),
        launch_arguments=[*passed, ('machine_node', 'machine'), ('params_file', '')])])
