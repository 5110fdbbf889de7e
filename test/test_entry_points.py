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

"""Console entry points: a missing third-party package is one line, not a traceback."""

import subprocess
import sys
import textwrap

import pytest

from picam_ros.core.shutdown import EXIT_CONFIG_ERROR

BLOCKING = textwrap.dedent("""
    import importlib.abc, sys

    BLOCKED = sys.argv[1]

    class Blocker(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == BLOCKED or name.startswith(BLOCKED + '.'):
                raise ModuleNotFoundError(f"No module named '{name}'", name=name)
            return None

    sys.meta_path.insert(0, Blocker())
    from picam_ros import entry_points
    sys.exit(getattr(entry_points, sys.argv[2])())
    """)


def run_without(package: str, entry_point: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', BLOCKING, package, entry_point],
                          capture_output=True, text=True, timeout=60, check=False)


def test_the_runner_whose_package_is_missing_says_which_in_one_line_and_exits_2():
    result = run_without('numpy', 'runner')
    assert result.returncode == EXIT_CONFIG_ERROR, result.stderr
    assert result.stderr.splitlines() == [(
        "picam-ros: needs the Python package 'numpy' (rosdep key python3-numpy, or pip install "
        'numpy)')]


def test_a_node_whose_package_is_missing_says_which_in_one_line_and_exits_2():
    for messages in ('rclpy', 'diagnostic_msgs', 'sensor_msgs', 'geometry_msgs', 'std_msgs'):
        pytest.importorskip(messages, reason=f'the operator node needs the ROS package '
                                             f'{messages}, which is not installed: without it '
                                             f'the node names that one, not aiohttp')
    result = run_without('aiohttp', 'operator_node')
    assert result.returncode == EXIT_CONFIG_ERROR, result.stderr
    lines = result.stderr.strip().splitlines()
    expected = ("operator_node: needs the Python package 'aiohttp' "
                '(rosdep key python3-aiohttp, or pip install aiohttp)')
    assert lines == [expected], result.stderr
