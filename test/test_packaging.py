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

"""The package as colcon sees it on a ROS machine: identified, built and installed right.

colcon from PyPI (colcon-core, colcon-ros, ...) recognises an ament_python package through
catkin_pkg exactly as on a ROS machine; if catkin_pkg rejects package.xml it silently falls back
to a plain Python package that ``ros2 launch``/``ros2 run`` cannot find, hence these checks.
"""

import ast
import os
from pathlib import Path
import shutil
import subprocess
import sys
from xml.etree import ElementTree

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: The tools the test extra installs live beside this Python (``.venv/bin``), which need not be
#: on PATH (the README's test command does not activate the venv).
TOOL_PATH = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get('PATH', os.defpath)])
COLCON = shutil.which('colcon', path=TOOL_PATH)
pytestmark = pytest.mark.skipif(
    COLCON is None,
    reason='colcon is not installed (pip install colcon-core colcon-ros colcon-package-selection)')
SKIP_IN_COPY_NAMES = (
    'build', 'install', 'log', '*.so', '__pycache__', '*.egg-info', '.git', '.hypothesis',
    '.pytest_cache', '.ruff_cache', '.venv*', 'results')
SKIP_IN_COPY = shutil.ignore_patterns(*SKIP_IN_COPY_NAMES)
#: Modules the code imports -> the rosdep key that provides them.
ROSDEP_KEYS = {
    'numpy': 'python3-numpy', 'yaml': 'python3-yaml', 'rclpy': 'rclpy', 'launch': 'launch',
    'launch_ros': 'launch_ros', 'sensor_msgs': 'sensor_msgs', 'std_msgs': 'std_msgs',
    'diagnostic_msgs': 'diagnostic_msgs', 'rcl_interfaces': 'rcl_interfaces',
    'builtin_interfaces': 'builtin_interfaces', 'sensor_msgs_py': 'sensor_msgs_py',
    'ament_index_python': 'ament_index_python', 'PIL': 'python3-pil',
    'geometry_msgs': 'geometry_msgs', 'std_srvs': 'std_srvs', 'aiohttp': 'python3-aiohttp',
}


def run(*args, cwd):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600,
                          check=False, env={**os.environ, 'PATH': TOOL_PATH})


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    """Make a colcon workspace holding a copy of the package (the work tree stays untouched)."""
    base = tmp_path_factory.mktemp('ws')
    shutil.copytree(ROOT, base / 'src' / 'picam_ros', ignore=SKIP_IN_COPY)
    return base


@pytest.fixture(scope='module')
def install(workspace):
    """Build with ``colcon build --packages-select picam_ros``; return the install prefix."""
    # The workspace holds only this package, so without colcon-package-selection a plain
    # build is the same build.
    result = colcon_build(workspace)
    logs = sorted((workspace / 'log').rglob('stderr.log'))
    details = '\n'.join(log.read_text()[-3000:] for log in logs)
    assert result.returncode == 0, f'colcon build failed:\n{result.stderr[-3000:]}\n{details}'
    return workspace / 'install' / 'picam_ros'


def colcon_build(workspace, *options):
    help_text = run(COLCON, 'build', '--help', cwd=workspace).stdout
    select = ['--packages-select', 'picam_ros'] if '--packages-select' in help_text else []
    return run(COLCON, '--log-base', 'log', 'build', '--base-paths', 'src',
               '--build-base', 'build', '--install-base', 'install', *select, *options,
               '--event-handlers', 'console_direct-', cwd=workspace)


def test_symlink_install_builds_the_extension_that_the_installed_package_imports(
        tmp_path_factory):
    # colcon build --symlink-install runs setup.py from the build directory, where src_cpp/ is
    # not linked: the sources must be found from setup.py's own directory.
    workspace = tmp_path_factory.mktemp('ws_symlink')
    shutil.copytree(ROOT, workspace / 'src' / 'picam_ros', ignore=SKIP_IN_COPY)
    result = colcon_build(workspace, '--symlink-install')
    assert result.returncode == 0, result.stderr[-3000:]
    install = workspace / 'install' / 'picam_ros'
    packages = next(install.glob('lib/python*/site-packages'))
    link = next(packages.glob('*.egg-link')).read_text().split()[0]
    check = subprocess.run(
        [sys.executable, '-c', IMPORT_CHECK + '; print(picam_ros._centroids.__name__)'],
        env={**os.environ, 'PYTHONPATH': link}, cwd=install,
        capture_output=True, text=True, timeout=60, check=False)
    assert check.returncode == 0, check.stderr[-3000:]
    assert check.stdout.split()[-1] == 'picam_ros._centroids'


def test_a_tree_without_cpp_sources_fails_to_build_with_the_reason(tmp_path):
    package = tmp_path / 'picam_ros'
    shutil.copytree(ROOT, package, ignore=shutil.ignore_patterns(
        'src_cpp', *SKIP_IN_COPY_NAMES))
    result = subprocess.run([sys.executable, 'setup.py', '--name'], cwd=package,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode != 0
    assert 'no C++ sources' in result.stderr


def test_colcon_lists_an_ament_python_package(workspace):
    result = run(COLCON, '--log-base', 'log', 'list', '--base-paths', 'src', cwd=workspace)
    assert result.returncode == 0, result.stderr
    name, _, kind = result.stdout.strip().split('\t')
    assert (name, kind) == ('picam_ros', '(ros.ament_python)')


def test_catkin_pkg_accepts_package_xml():
    package = pytest.importorskip('catkin_pkg.package', reason='catkin_pkg is not installed')
    parsed = package.parse_package(str(ROOT / 'package.xml'))
    parsed.validate()
    assert parsed.name == 'picam_ros'
    assert parsed.get_build_type() == 'ament_python'


def test_build_installs_launch_files_config_index_marker_and_manifest(install):
    share = install / 'share'
    assert (share / 'ament_index' / 'resource_index' / 'packages' / 'picam_ros').is_file()
    assert (share / 'picam_ros' / 'package.xml').is_file()
    for launch_file in ('stream', 'camera', 'centroids', 'two_cameras', 'operator'):
        assert (share / 'picam_ros' / 'launch' / f'{launch_file}.launch.py').is_file()
    for config in ('picam.yaml', 'two_cameras.yaml'):
        assert (share / 'picam_ros' / 'config' / config).is_file()
    web = next(install.glob('lib/python*/site-packages')) / 'picam_ros' / 'operator_page' / 'web'
    assert {'index.html', 'main.js', 'whep.js', 'style.css'} <= {p.name for p in web.iterdir()}


@pytest.mark.parametrize('executable, target', [
    ('camera_node', 'picam_ros.entry_points:camera_node'),
    ('centroid_node', 'picam_ros.entry_points:centroid_node'),
    ('machine_node', 'picam_ros.entry_points:machine_node'),
    ('operator_node', 'picam_ros.entry_points:operator_node')])
def test_node_executables_are_installed_where_ros2_run_looks(install, executable, target):
    script = install / 'lib' / 'picam_ros' / executable
    assert script.is_file() and os.access(script, os.X_OK)
    packages = next(install.glob('lib/python*/site-packages'))
    entry_points = next(packages.glob('picam_ros-*.egg-info')) / 'entry_points.txt'
    assert f'{executable} = {target}' in entry_points.read_text()


IMPORT_CHECK = 'import picam_ros, picam_ros._centroids; print(picam_ros.__file__)'


def test_installed_package_carries_the_built_extension(install):
    packages = next(install.glob('lib/python*/site-packages'))
    result = subprocess.run(
        [sys.executable, '-c', IMPORT_CHECK],
        env={**os.environ, 'PYTHONPATH': str(packages)}, cwd=install,
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).is_relative_to(packages)


def test_every_imported_ros_or_system_package_is_a_declared_dependency():
    manifest = ElementTree.parse(ROOT / 'package.xml').getroot()
    declared = {element.text.strip() for element in manifest
                if element.tag in ('depend', 'exec_depend')}
    imported = set()
    for path in [*(ROOT / 'picam_ros').glob('**/*.py'), *(ROOT / 'launch').glob('*.py')]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split('.')[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split('.')[0])
    needed = {ROSDEP_KEYS[name] for name in imported if name in ROSDEP_KEYS}
    unknown = imported - set(ROSDEP_KEYS) - set(sys.stdlib_module_names) - {'picam_ros'}
    assert not unknown, f'imports without a known rosdep key: {sorted(unknown)}'
    assert needed <= declared, f'missing exec_depend: {sorted(needed - declared)}'
