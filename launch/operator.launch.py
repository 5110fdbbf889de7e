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

"""Launch the operator page: a web server for the live stream with centroids, targets, tuning.

    ros2 launch picam_ros operator.launch.py                       # http://127.0.0.1:8080/
    ros2 launch picam_ros operator.launch.py operator_host:=0.0.0.0 token_file:=/etc/picam/token
    ros2 launch picam_ros operator.launch.py machine_node:=machine   # the machine node's page

The token for state changes is logged at start (or read from ``token_file``); without it the
page is view-only. ``operator:=false`` launches nothing, so stream.launch.py can include this
file with the argument passed through (so do machine.launch.py, with ``machine_node:=machine``:
composite video, modes, calibration and the pads/leads sliders of the machine node).
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from picam_ros.ros.launch_support import (
    COMMON_ARGUMENTS,
    declare_arguments,
    LAUNCH_ARGUMENTS,
    launch_flag,
    node_environment,
    parameter_files,
    require_operator_page,
)

#: name -> (default, description); an empty default keeps the node's own default.
OPERATOR_ARGUMENTS = {
    'operator': LAUNCH_ARGUMENTS['operator'],
    'operator_host': ('127.0.0.1', 'address of the operator page (0.0.0.0: every interface)'),
    'operator_port': ('8080', 'TCP port of the operator page'),
    'token_file': ('', 'file holding the operator token (empty: generated and logged)'),
    'whep_url': ('', ('WHEP URL of the stream ({host}: the page host; empty: the composite '
                      'path with a machine node, else the camera path)')),
    'machine_node': ('', ('the machine node the page drives (modes, calibration, composite '
                          'video, pads/leads); empty: a camera and centroid node')),
    'centroid_node': ('', ('the node whose keying parameters the sliders set (empty: '
                           'centroids; stream.launch.py passes camera with '
                           'centroids:=inprocess)')),
}


def launch_operator(context):
    if not launch_flag(context, 'operator'):
        return []
    value = {name: LaunchConfiguration(name).perform(context).strip()
             for name in OPERATOR_ARGUMENTS}
    try:
        port = int(value['operator_port'])
    except ValueError:
        raise RuntimeError(f'operator_port {value["operator_port"]!r} is not a number') from None
    overrides = {'host': value['operator_host'], 'port': port}
    if value['token_file']:
        overrides['token_file'] = value['token_file']
    for name in ('whep_url', 'machine_node', 'centroid_node'):
        if value[name]:
            overrides[name] = value[name]
    namespace = LaunchConfiguration('namespace').perform(context).strip() or None
    return [Node(
        package='picam_ros', executable='operator_node', name='operator', namespace=namespace,
        parameters=[*parameter_files(context), overrides], output='screen',
        ros_arguments=['--log-level', LaunchConfiguration('log_level').perform(context)],
        additional_env=node_environment(),   # stops when launch dies
    )]


def generate_launch_description():
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=description)
         for name, (default, description) in OPERATOR_ARGUMENTS.items()]
        + declare_arguments(COMMON_ARGUMENTS)
        + [OpaqueFunction(function=require_operator_page),
           OpaqueFunction(function=launch_operator)])
