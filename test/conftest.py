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

"""Shared pytest configuration for picam_ros.

Two things happen here before any test module imports the package:

- **Which picam_ros is tested.** The suite tests the package that was built: the work tree when
  it holds the compiled ``_centroids`` (``scripts/setup.sh`` installs it in editable mode), or
  else the installed copy a ``colcon build`` made (``colcon test`` runs pytest from the source
  tree, which has no extension; the workspace's install prefix is on ``PYTHONPATH`` and
  ``AMENT_PREFIX_PATH``). Without any built copy the run stops with one line saying how to build
  it, instead of every ROS test skipping with a misleading "rclpy is not installed".
- **A private ROS graph.** Several developers run ROS tests on one machine at once, so each
  pytest process gets its own ``ROS_DOMAIN_ID`` (from its pid, unless ``PICAM_ROS_TEST_DOMAIN``
  names one) and discovery stays on this host. Child processes (nodes started by the tests)
  inherit both.
"""

import importlib.util
import os
from pathlib import Path
import sys

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: FastDDS derives its ports from the domain id; ids above 232 overflow the port range.
DOMAIN_IDS = range(1, 232)


def _built_in_place() -> bool:
    return any((ROOT / 'picam_ros').glob('_centroids*.so'))


def _installed_copies() -> list[Path]:
    """site-packages directories (from the environment) that hold a built picam_ros."""
    found = []
    for entry in [*os.environ.get('PYTHONPATH', '').split(os.pathsep), *sys.path]:
        if not entry:
            continue
        path = Path(entry).resolve()
        if path != ROOT and any((path / 'picam_ros').glob('_centroids*.so')):
            found.append(path)
    return list(dict.fromkeys(found))


def _select_built_package() -> None:
    if _built_in_place():
        return
    installed = _installed_copies()
    if not installed:
        return   # reported by pytest_sessionstart
    # The source tree (the cwd, or the root pytest inserted) would shadow the built copy.
    sys.path[:] = [entry for entry in sys.path
                   if Path(entry or os.getcwd()).resolve() != ROOT]
    sys.path.insert(0, str(installed[0]))
    # Python processes the tests start find the same copy. `python -m` puts its cwd (the source
    # tree, under colcon test) before PYTHONPATH; PYTHONSAFEPATH (Python 3.11+) leaves it out.
    os.environ['PYTHONPATH'] = os.pathsep.join(
        [str(installed[0]), *filter(None, os.environ.get('PYTHONPATH', '').split(os.pathsep))])
    os.environ['PYTHONSAFEPATH'] = '1'
    for name in [name for name in sys.modules if name.split('.')[0] == 'picam_ros']:
        del sys.modules[name]


def _isolate_ros_graph() -> None:
    chosen = os.environ.get('PICAM_ROS_TEST_DOMAIN')
    domain = int(chosen) if chosen else DOMAIN_IDS[os.getpid() % len(DOMAIN_IDS)]
    os.environ['ROS_DOMAIN_ID'] = str(domain)
    if os.environ.get('ROS_DISTRO') == 'humble':
        os.environ.setdefault('ROS_LOCALHOST_ONLY', '1')
    else:   # Jazzy and newer (ROS_LOCALHOST_ONLY is deprecated there)
        os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')


_select_built_package()
_isolate_ros_graph()


def pytest_sessionstart(session: pytest.Session) -> None:
    spec = importlib.util.find_spec('picam_ros._centroids')
    if spec is None:
        raise pytest.UsageError(
            'picam_ros._centroids (the C++ engine) is not built: run scripts/setup.sh --test '
            '(work tree, editable) or colcon build and source install/setup.bash first')


def pytest_report_header(config: pytest.Config) -> list[str]:
    spec = importlib.util.find_spec('picam_ros')   # the copy _select_built_package() chose
    where = Path(spec.origin).parent if spec else None
    return [f'picam_ros: {where} (ROS_DOMAIN_ID={os.environ["ROS_DOMAIN_ID"]})']


@pytest.hookimpl(hookwrapper=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector):
    """Keep a module-level skip a skip of that module where launch_testing is installed.

    launch_testing's own ``pytest_pycollect_makemodule`` imports every test module to look for a
    launch test; a module that skips at import (``pytest.importorskip`` of an optional
    dependency) then raises out of collection and ends the whole session as "1 skipped". Here
    the skip is left to the ordinary Module, which imports the file again and reports the skip
    for that file alone.
    """
    outcome = yield
    excinfo = outcome.excinfo
    if excinfo is not None and isinstance(excinfo[1], pytest.skip.Exception):
        outcome.force_result(pytest.Module.from_parent(parent, path=module_path))
