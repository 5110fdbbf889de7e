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


"""machine.launch.py brought up with ``ros2 launch`` (a real launch, a real node process).

The package is made findable without a colcon install: a throw-away ament prefix holds its
marker and a ``lib/picam_ros/machine_node`` that runs this source tree's node.
"""

from __future__ import annotations

import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import time

import pytest
import yaml

rclpy = pytest.importorskip('rclpy', reason='rclpy is not installed: needs a sourced ROS 2')
pytest.importorskip('launch_ros', reason='launch_ros is not installed: needs a sourced ROS 2')

from geometry_msgs.msg import PoseStamped  # noqa: E402, I100
from proctree import descendants, process_gone, wait_until  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from sensor_msgs.msg import PointCloud2  # noqa: E402

pytestmark = pytest.mark.ros

ROOT = Path(__file__).parents[2]
GUARD_S = 40.0   # failure guard only


def fake_prefix(directory: Path) -> Path:
    prefix = directory / 'prefix'
    (prefix / 'share' / 'ament_index' / 'resource_index' / 'packages').mkdir(parents=True)
    (prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' / 'picam_ros').touch()
    (prefix / 'share' / 'picam_ros').mkdir(parents=True)
    executable = prefix / 'lib' / 'picam_ros' / 'machine_node'
    executable.parent.mkdir(parents=True)
    executable.write_text(f'#!/bin/sh\nexec {sys.executable} -m picam_ros.ros.machine_node "$@"\n')
    executable.chmod(0o755)
    return prefix


def test_machine_launch_brings_up_centroids_and_alignment_and_stops_cleanly(tmp_path):
    ros2 = shutil.which('ros2')
    if ros2 is None:
        pytest.skip('the ros2 command is not on PATH')
    small = tmp_path / 'small.yaml'
    small.write_text(yaml.safe_dump({'/**': {'ros__parameters': {
        'board': {'width': 640, 'height': 480, 'fps': 10.0},
        'component': {'width': 640, 'height': 480, 'fps': 10.0},
        'centroid_rate_hz': 5.0}}}))
    env = {**os.environ,
           'AMENT_PREFIX_PATH': os.pathsep.join([str(fake_prefix(tmp_path)),
                                                 os.environ.get('AMENT_PREFIX_PATH', '')]),
           'PYTHONPATH': os.pathsep.join([os.environ.get('PYTHONPATH', ''), str(ROOT)])}
    launch = subprocess.Popen(
        [ros2, 'launch', str(ROOT / 'launch' / 'machine.launch.py'), 'source:=synthetic',
         'operator:=false',
         'stream:=false', f'params_file:={small}', f'calibration_file:={tmp_path / "c.yaml"}'],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    rclpy.init()
    probe = rclpy.create_node('machine_launch_probe')
    executor = SingleThreadedExecutor()
    executor.add_node(probe)
    poses, clouds, children = [], [], []
    probe.create_subscription(PoseStamped, '/alignment', poses.append, 10)
    probe.create_subscription(PointCloud2, '/board/centroids', clouds.append, 10)
    try:
        deadline = time.monotonic() + GUARD_S
        while time.monotonic() < deadline and not (poses and clouds) and launch.poll() is None:
            executor.spin_once(timeout_sec=0.1)
        assert poses and clouds, launch.stdout.read() if launch.poll() is not None else ''
        assert clouds[-1].width > 4
        assert poses[-1].header.frame_id == 'board_optical_frame'
        children = descendants(launch.pid)
        assert children   # the node process, started by launch
    finally:
        executor.shutdown()
        probe.destroy_node()
        rclpy.try_shutdown()
        os.killpg(launch.pid, signal.SIGINT)
        try:
            output, _ = launch.communicate(timeout=20)
        finally:
            if launch.poll() is None:
                os.killpg(launch.pid, signal.SIGKILL)
                launch.wait()
    assert launch.returncode == 0, output
    assert wait_until(lambda: all(process_gone(pid) for pid in children), 5)


def test_without_aiohttp_the_machine_launch_starts_nothing_and_says_why_in_one_line(tmp_path):
    ros2 = shutil.which('ros2')
    if ros2 is None:
        pytest.skip('the ros2 command is not on PATH')
    # aiohttp made unimportable for this launch only (a package that raises as a missing one).
    shadow = tmp_path / 'no_aiohttp' / 'aiohttp'
    shadow.mkdir(parents=True)
    (shadow / '__init__.py').write_text(
        "raise ModuleNotFoundError(\"No module named 'aiohttp'\", name='aiohttp')\n")
    env = {**os.environ,
           'AMENT_PREFIX_PATH': os.pathsep.join([str(fake_prefix(tmp_path)),
                                                 os.environ.get('AMENT_PREFIX_PATH', '')]),
           'PYTHONPATH': os.pathsep.join([str(shadow.parent), os.environ.get('PYTHONPATH', ''),
                                          str(ROOT)])}
    launch = subprocess.run(
        [ros2, 'launch', str(ROOT / 'launch' / 'machine.launch.py'), 'source:=synthetic',
         'stream:=false', f'calibration_file:={tmp_path / "c.yaml"}'],
        env=env, capture_output=True, text=True, timeout=GUARD_S, start_new_session=True,
        check=False)
    output = launch.stdout + launch.stderr
    assert launch.returncode != 0, output
    assert 'process started' not in output, output   # the check came before the machine node
    errors = [line for line in output.splitlines() if 'ERROR' in line or 'Traceback' in line]
    assert len(errors) == 1 and 'the operator page needs aiohttp' in errors[0], output
