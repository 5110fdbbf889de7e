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

"""The folders are the architecture: ROS stays in ros/, and no module imports in a circle.

The core must be usable with plain numpy on a Pi without ROS, so only ``picam_ros/ros/`` and the
operator page's rclpy adapter may import rclpy, ROS messages or launch when they are loaded.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / 'picam_ros'
ROS_ROOTS = {'rclpy', 'launch', 'launch_ros', 'launch_testing', 'launch_testing_ros',
             'rosidl_runtime_py', 'sensor_msgs_py', 'ament_index_python', 'rcl_interfaces',
             'builtin_interfaces'}
#: Where loading ROS is the point: every node and its glue, and the operator page's adapter.
ROS_HOMES = (PACKAGE / 'ros', PACKAGE / 'operator_page' / 'operator_node.py')
#: ROS-free on purpose although it lives in ros/: the launch files import it from the package.
ROS_FREE_IN_ROS = {'picam_ros.ros.launch_support'}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def load_time_imports(path: Path) -> list[str]:
    """Return what a file imports when it is loaded: its top level, try/if/with blocks."""
    found: list[str] = []

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                found.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.append(node.module)
                found.extend(f'{node.module}.{alias.name}' for alias in node.names)
            elif isinstance(node, (ast.If, ast.Try, ast.With)):
                for field in ('body', 'orelse', 'finalbody', 'handlers'):
                    for child in getattr(node, field, []):
                        visit(child.body if isinstance(child, ast.ExceptHandler) else [child])
    visit(ast.parse(path.read_text()).body)
    return found


def is_ros(module: str) -> bool:
    root = module.split('.')[0]
    return root in ROS_ROOTS or root.endswith(('_msgs', '_srvs'))


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob('*.py'))}


def in_ros_home(path: Path) -> bool:
    return any(path == home or home in path.parents for home in ROS_HOMES)


def test_only_the_ros_folder_and_the_operator_node_load_ros():
    offenders = {name: sorted({m for m in load_time_imports(path) if is_ros(m)})
                 for name, path in modules().items() if not in_ros_home(path)}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_every_module_in_the_ros_folder_needs_ros():
    # A ROS-free module parked in ros/ would hide what the core can do without ROS.
    ros_free = [name for name, path in modules().items()
                if (PACKAGE / 'ros') in path.parents and path.name != '__init__.py'
                and not any(is_ros(m) or m.startswith('picam_ros.ros.')
                            for m in load_time_imports(path))]
    assert sorted(set(ros_free) - ROS_FREE_IN_ROS) == []


def test_no_module_imports_in_a_circle():
    names = modules()
    graph = {name: {m for m in load_time_imports(path) if m in names and m != name}
             for name, path in names.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def walk(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(trail[trail.index(nxt):] + [nxt])
            elif nxt not in state:
                walk(nxt, trail + [nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            walk(start, [start])
    assert cycles == []


def test_the_package_folder_names_the_ideas_not_the_files():
    top = sorted(p.name for p in PACKAGE.iterdir()
                 if p.suffix == '.py' or (p / '__init__.py').is_file())
    assert len(top) <= 12, top
