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

"""Bounded stops without ROS: the stop guard, and a runtime whose sink never returns."""

import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import textwrap
import threading

from launcher_harness import subreaper_refusal
from proctree import wait_until
import pytest

from picam_ros.camera.runtime import CameraRuntime, RuntimeConfig
from picam_ros.core.shutdown import EXIT_STOPPED
from picam_ros.sources.synthetic import SyntheticConfig, SyntheticSource

GUARD_S = 30.0   # failure guard only


def guarded_child(body: str) -> subprocess.Popen:
    """Run a Python child that arms a StopGuard (0.3 s) and then runs ``body``."""
    code = textwrap.dedent("""
        import sys, threading, time
        from picam_ros.core.shutdown import StopGuard
        guard = StopGuard('child', deadline=0.3)
        guard.arm(3)
        print('armed', flush=True)
    """) + textwrap.dedent(body)
    return subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_a_teardown_that_hangs_ends_the_process_with_the_armed_status_and_says_why():
    child = guarded_child('threading.Event().wait()\n')
    out, err = child.communicate(timeout=GUARD_S)
    assert out == 'armed\n'
    assert child.returncode == 3
    assert '[child] teardown still busy 0.3 s after the stop request; exiting now' in err
    assert 'Traceback' not in err


def test_stop_signals_are_ignored_once_the_teardown_started():
    child = guarded_child("""
        time.sleep(0.1)
        guard.done()
        print('done', flush=True)
        threading.Event().wait(0.5)
    """)
    assert child.stdout.readline() == 'armed\n'
    child.send_signal(signal.SIGINT)
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=GUARD_S)
    assert out == 'done\n' and child.returncode == 0, err
    assert 'Traceback' not in err and 'KeyboardInterrupt' not in err


def test_a_finished_teardown_is_not_cut_short():
    child = guarded_child("""
        guard.done()
        time.sleep(0.6)   # twice the deadline, after the teardown finished
        print('still here', flush=True)
    """)
    out, err = child.communicate(timeout=GUARD_S)
    assert out == 'armed\nstill here\n' and child.returncode == 0, err


class Log:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def info(self, message: str) -> None:
        pass

    warning = info

    def error(self, message: str) -> None:
        self.errors.append(message)


def test_a_stop_reaches_a_main_thread_blocked_where_no_python_handler_wakes_it():
    # select() retried after the recording handler ran (PEP 475) stands for an executor in
    # rcl_wait: only the watcher's own thread, woken through the wakeup fd, can end the wait.
    child = subprocess.Popen([sys.executable, '-c', textwrap.dedent("""
        import os, select, threading
        from picam_ros.core.shutdown import StopWatcher
        from picam_ros.core.stop_request import StopRequest
        stop = StopRequest.install()
        wake_r, wake_w = os.pipe()
        watcher = StopWatcher(lambda: os.write(wake_w, b'x'))
        print('waiting', flush=True)
        select.select([wake_r], [], [])
        watcher.close()
        print('woken on', threading.current_thread().name, 'stop recorded:', stop.is_set(),
              flush=True)
    """)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout.readline() == 'waiting\n'
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=GUARD_S)
    assert out == 'woken on MainThread stop recorded: True\n', err
    assert child.returncode == 0 and err == ''


def test_runtime_stop_returns_even_when_a_sink_never_returns():
    source = SyntheticSource(SyntheticConfig(width=256, height=256, fps=100.0))
    log = Log()
    runtime = CameraRuntime(source, config=RuntimeConfig(join_timeout=0.2), log=log)
    entered, release = threading.Event(), threading.Event()

    def stuck_sink(frame):
        entered.set()
        release.wait(GUARD_S)

    runtime.add_sink(stuck_sink, 'stuck')
    runtime.start()
    try:
        assert entered.wait(GUARD_S)
        stopper = threading.Thread(target=runtime.stop)
        stopper.start()
        stopper.join(GUARD_S)
        assert not stopper.is_alive(), 'stop() waited for the stuck sink'
        assert not runtime.running
        assert any('picam-capture thread still busy' in e for e in log.errors), log.errors
    finally:
        release.set()
    assert wait_until(lambda: not any(t.name == 'picam-capture' for t in threading.enumerate()))


def test_ctrl_c_while_a_program_loads_ends_it_at_once_quietly_before_it_starts(tmp_path):
    # The program loads for a while, as numpy and rclpy do, and makes a dataclass (compile()
    # runs, where CPython 3.11 drops an exception a signal handler raises): the signal is
    # neither raised into the loading nor lost, and the loading is not waited for.
    (tmp_path / 'slow_program.py').write_text(
        'import dataclasses, sys, time\nprint("loading", flush=True)\n'
        'deadline = time.monotonic() + 60.0\nwhile time.monotonic() < deadline:\n'
        '    Config = dataclasses.make_dataclass("Config", [("paced", bool, True)])\n'
        'def main():\n    print("started", flush=True)\n    return 5\n')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), *sys.path]))
    child = subprocess.Popen(
        [sys.executable, '-c', ('import sys\nfrom picam_ros import entry_points\n'
                                'sys.exit(entry_points._run("slow_program"))')],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert child.stdout.readline() == 'loading\n'
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=GUARD_S)
    assert child.returncode == EXIT_STOPPED
    assert out == '' and err == '', 'no traceback, and main() never ran'


def test_the_console_scripts_are_the_quiet_loaders():
    setup = (Path(__file__).parents[1] / 'setup.py').read_text()
    for script in ('camera_node = picam_ros.entry_points:camera_node',
                   'centroid_node = picam_ros.entry_points:centroid_node',
                   'picam-ros = picam_ros.entry_points:runner'):
        assert script in setup


HARNESS = Path(__file__).resolve().parent / 'launcher_harness.py'
SUBREAPER_REFUSAL = subreaper_refusal()
WATCHER = textwrap.dedent("""
    import signal, sys, threading
    from picam_ros.core.shutdown import stop_with_launcher
    stopped = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    print('watching' if stop_with_launcher() else 'not watching', flush=True)
    sys.exit(7 if stopped.wait(60) else 1)
""")


def watch_status(env_pid: str | None) -> str:
    """Return what ``stop_with_launcher`` answers in a child of ours, given LAUNCHER_PID_ENV."""
    env = {k: v for k, v in os.environ.items() if k != 'PICAM_ROS_LAUNCHER_PID'}
    if env_pid is not None:
        env['PICAM_ROS_LAUNCHER_PID'] = env_pid
    code = 'from picam_ros.core.shutdown import stop_with_launcher; print(stop_with_launcher())'
    done = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True,
                          text=True, timeout=GUARD_S, check=True)
    return done.stdout.strip()


def test_the_launcher_watch_is_set_only_when_the_launcher_is_the_parent():
    assert watch_status(str(os.getpid())) == 'True'
    assert watch_status('1') == 'False'            # a launch prefix (gdb) between them
    assert watch_status(None) == 'False'           # started by hand
    assert watch_status('not-a-pid') == 'False'


def test_a_process_whose_launcher_died_before_it_looked_is_sent_sigint_at_once():
    # launch can fail right after it started a node (an include raising): no watch can be set
    # then, and the node must not run on as an orphan.
    gone = subprocess.Popen([sys.executable, '-c', 'pass'])
    gone.wait()
    env = {**os.environ, 'PICAM_ROS_LAUNCHER_PID': str(gone.pid)}
    done = subprocess.run([sys.executable, '-c', WATCHER], env=env, capture_output=True,
                          text=True, timeout=GUARD_S, check=False)
    assert (done.stdout.strip(), done.returncode) == ('watching', 7)


@pytest.mark.skipif(SUBREAPER_REFUSAL is not None, reason=str(SUBREAPER_REFUSAL))
def test_a_process_watching_its_launcher_is_sent_sigint_when_the_launcher_is_killed():
    harness = subprocess.Popen([sys.executable, str(HARNESS), '--', sys.executable, '-c',
                                WATCHER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
    try:
        first_lines = {harness.stdout.readline().strip() for _ in range(2)}
        assert 'watching' in first_lines, first_lines   # and the harness's {"pid": N}
        harness.stdin.write('kill\n')
        harness.stdin.flush()
        assert json.loads(harness.stdout.readline()) == {'status': 7}
    finally:
        harness.kill()
        harness.wait()
