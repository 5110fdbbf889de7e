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

"""Console entry points and ``python -m``: how a program starts, hears a stop, and ends."""

import os
from pathlib import Path
import signal
import subprocess
import sys
import textwrap

import pytest

from picam_ros.core.shutdown import EXIT_CONFIG_ERROR, EXIT_STOPPED
from picam_ros.entry_points import PROGRAM_MODULES

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


# -- python -m <program module> ----------------------------------------------------------------
GUARD_S = 60.0   # failure guard only
MODULE_RUNS = [('picam_ros.cli', None), ('picam_ros.ros.camera_node', 'rclpy'),
               ('picam_ros.ros.centroid_node', 'rclpy'), ('picam_ros.ros.machine_node', 'rclpy'),
               ('picam_ros.operator_page.operator_node', 'aiohttp')]


@pytest.mark.parametrize(('module', 'needs'), MODULE_RUNS)
def test_ctrl_c_while_python_m_loads_a_program_ends_it_at_once_quietly(module, needs):
    # `-X importtime` reports each import as it completes: once the package's own line is
    # out, its __init__ (which installs the guard) has run and the program's imports (numpy,
    # rclpy, the engine: tenths of a second) are under way. The old module run met that
    # SIGINT with Python's KeyboardInterrupt: a traceback from the middle of an import.
    if needs:
        pytest.importorskip(needs, reason=f'{module} needs {needs}')
    child = subprocess.Popen([sys.executable, '-X', 'importtime', '-m', module],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, ROS_DOMAIN_ID='231'))
    try:
        for line in child.stderr:
            if line.split('|')[-1].strip() == 'picam_ros':
                break
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=GUARD_S)
    finally:
        child.kill()
        child.wait()
    lines = [line for line in err.splitlines() if not line.startswith('import time:')]
    assert (child.returncode, out, lines) == (EXIT_STOPPED, '', [])


def test_a_program_module_run_with_python_m_hands_over_as_its_entry_point_does():
    root = Path(__file__).resolve().parents[1]
    for module in PROGRAM_MODULES:
        path = root.joinpath(*module.split('.'))
        source = ((path / '__main__.py') if path.is_dir() else path.with_suffix('.py')).read_text()
        main_block = source.split("if __name__ == '__main__':")[-1]
        assert 'run_as_main(main)' in main_block or 'entry_points import' in source, module


def test_another_package_run_with_python_m_keeps_its_own_sigint_handling(tmp_path):
    # Its __init__ imports picam_ros while Python locates the module, as ours do; the guard is
    # for picam_ros's programs only.
    package = tmp_path / 'otherpkg'
    package.mkdir()
    (package / '__init__.py').write_text('import picam_ros\n')
    (package / 'tool.py').write_text(
        'import signal\nprint(signal.getsignal(signal.SIGINT) is signal.default_int_handler)\n')
    result = subprocess.run([sys.executable, '-m', 'otherpkg.tool'], capture_output=True,
                            text=True, timeout=GUARD_S, check=False,
                            env=dict(os.environ, PYTHONPATH=os.pathsep.join(
                                [str(tmp_path), *sys.path])))
    assert (result.returncode, result.stdout, result.stderr) == (0, 'True\n', '')


# -- the end of a program ------------------------------------------------------------------------
ENDING = textwrap.dedent("""
    import atexit, sys, threading, time

    def main():
        atexit.register(lambda: open(sys.argv[1] + '.atexit', 'w').close())
        if sys.argv[2:] == ['thread']:
            def late():
                time.sleep(0.2)   # still running when main() returns
                open(sys.argv[1] + '.thread', 'w').close()
            threading.Thread(target=late).start()
        sys.stdout.write('unflushed')
        return 3
""")


def end_program(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / 'ending_program.py').write_text(ENDING)
    return subprocess.run(
        [sys.executable, '-c', ('import sys\nfrom picam_ros import entry_points\n'
                                'sys.exit(entry_points._run("ending_program"))'),
         str(tmp_path / 'marker'), *args],
        capture_output=True, text=True, timeout=GUARD_S, check=False,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), *sys.path])))


def test_a_program_ended_at_once_after_main_still_gets_its_atexit_functions_and_output(
        tmp_path):
    # The entry point ends the process without the interpreter's finalisation (which only
    # frees memory and C++ statics); what a program can rely on at exit is kept.
    result = end_program(tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (3, 'unflushed', '')
    assert (tmp_path / 'marker.atexit').exists()


def test_a_thread_a_program_left_running_is_waited_for_as_the_interpreter_does(tmp_path):
    result = end_program(tmp_path, 'thread')
    assert (result.returncode, result.stdout, result.stderr) == (3, 'unflushed', '')
    assert (tmp_path / 'marker.atexit').exists() and (tmp_path / 'marker.thread').exists()
