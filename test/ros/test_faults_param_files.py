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

"""Bad parameter files given to the real node processes: one line, the config status, no trace.

A configuration error ends a node with ``EXIT_CONFIG_ERROR`` (launch does not respawn it), a
lost camera with ``EXIT_CAMERA_LOST`` (launch respawns it); a name nothing declares is warned
about with the name it most likely meant.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

rclpy = pytest.importorskip(
    'rclpy', reason='rclpy is not installed: the node process tests need a sourced ROS 2')

from proctree import wait_until  # noqa: E402, I100

from picam_ros.core.shutdown import EXIT_CAMERA_LOST, EXIT_CONFIG_ERROR  # noqa: E402

pytestmark = pytest.mark.ros

GUARD_S = 30.0   # failure guard only
DOMAIN = 60 + os.getpid() % 150
#: Nodes outside picam_ros.ros.
MODULES = {'operator_node': 'picam_ros.operator_page.operator_node'}


def run_node(module: str, tmp_path, yaml_text: str, *, until: str | None = None):
    """Run a node on a parameter file; returns (status, output). ``until``: stop it then."""
    params = tmp_path / 'params.yaml'
    params.write_text(yaml_text)
    log_path = tmp_path / f'{module}.log'
    env = dict(os.environ, ROS_DOMAIN_ID=str(DOMAIN), PYTHONUNBUFFERED='1')
    with open(log_path, 'wb') as log:
        node = subprocess.Popen([sys.executable, '-m',
                                 MODULES.get(module, f'picam_ros.ros.{module}'), '--ros-args',
                                 '--params-file', str(params)],
                                stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    try:
        if until is not None:
            assert wait_until(lambda: until in log_path.read_text(errors='replace')
                              or node.poll() is not None, GUARD_S)
            os.killpg(node.pid, signal.SIGINT)
        status = node.wait(GUARD_S)
    finally:
        if node.poll() is None:
            os.killpg(node.pid, signal.SIGKILL)
            node.wait()
    return status, log_path.read_text(errors='replace')


def assert_one_clear_line(output: str, *expected: str) -> None:
    assert 'Traceback' not in output, output
    fatal = [line for line in output.splitlines() if '[FATAL]' in line]
    assert len(fatal) == 1, output
    for text in expected:
        assert text in fatal[0], fatal[0]


def test_an_empty_profile_list_is_a_configuration_error_in_one_line(tmp_path):
    status, output = run_node('centroid_node', tmp_path,
                              '/**:\n  ros__parameters:\n    profiles: []\n')
    assert status == EXIT_CONFIG_ERROR
    assert_one_clear_line(output, 'profiles must name at least one keying profile')


@pytest.mark.parametrize('module', ['camera_node', 'centroid_node'])
def test_a_yaml_syntax_error_is_a_configuration_error_in_one_line(tmp_path, module):
    status, output = run_node(module, tmp_path, '/**:\n  ros__parameters:\n    width: [640\n')
    assert status == EXIT_CONFIG_ERROR
    assert_one_clear_line(output, "Couldn't parse params file", 'params.yaml')
    assert '.c:' not in output.split('[FATAL]')[1]   # no C source locations


def test_a_bad_value_is_a_configuration_error_not_a_lost_camera(tmp_path):
    status, output = run_node('camera_node', tmp_path,
                              '/**:\n  ros__parameters:\n    width: 641\n'
                              '    stream:\n      enabled: false\n')
    assert status == EXIT_CONFIG_ERROR != EXIT_CAMERA_LOST
    assert_one_clear_line(output, '641')


@pytest.mark.parametrize('line, named', [
    ('port: 70000', 'port out of range'),
    ("port: '8080'", "parameter 'port'"),
    ('profiles: [1, 2]', "parameter 'profiles'"),
])
def test_a_bad_operator_parameter_is_a_configuration_error_in_one_line(tmp_path, line, named):
    status, output = run_node('operator_node', tmp_path,
                              f'/**:\n  ros__parameters:\n    {line}\n')
    assert status == EXIT_CONFIG_ERROR
    assert_one_clear_line(output, named)


def test_extra_args_with_bad_quoting_is_a_configuration_error_naming_the_parameter(tmp_path):
    status, output = run_node('camera_node', tmp_path,
                              '/**:\n  ros__parameters:\n    source: rpicam\n'
                              '    extra_args: \'--vflip "x\'\n'
                              '    stream:\n      enabled: false\n')
    assert status == EXIT_CONFIG_ERROR
    assert_one_clear_line(output, 'extra_args: no closing quotation in \'--vflip "x\'')


def test_a_camera_lost_for_good_ends_the_node_with_the_respawn_status(tmp_path):
    status, output = run_node('camera_node', tmp_path,
                              '/**:\n  ros__parameters:\n    source: ffmpeg\n'
                              '    input: "lavfi:nosuchfilter"\n    max_failures: 1\n'
                              '    stream:\n      enabled: false\n')
    assert status == EXIT_CAMERA_LOST
    assert_one_clear_line(output, 'capture stopped: ffmpeg: 1 runs in a row ended without a '
                                  'frame')
    assert 'SourceError' not in output
    assert output.count('runs in a row ended without a frame') == 1, 'said once, as FATAL'


@pytest.mark.parametrize('module, typo, name, meant', [
    ('camera_node', 'widht: 640', 'widht', 'width'),
    ('centroid_node', 'pads:\n      luma_mni: 100', 'pads.luma_mni', 'pads.luma_min'),
    ('operator_node', 'frame_idd: tray\n    port: 0', 'frame_idd', 'frame_id'),
])
def test_a_misspelt_parameter_name_is_warned_about_with_the_name_meant(
        tmp_path, module, typo, name, meant):
    up = {'camera_node': 'synthetic camera', 'centroid_node': 'keying profiles',
          'operator_node': 'operator page ready'}[module]
    status, output = run_node(module, tmp_path,
                              f'/**:\n  ros__parameters:\n    {typo}\n'
                              f'    stream:\n      enabled: false\n', until=up)
    assert status == 0, output
    warnings = [line for line in output.splitlines() if f"'{name}'" in line]
    assert len(warnings) == 1 and '[WARN]' in warnings[0], output
    assert f"did you mean '{meant}'?" in warnings[0]
