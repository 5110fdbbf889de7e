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

"""Specification of the child-process supervisor, against real child processes."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading

from log_records import records_of
from proctree import process_gone, wait_until
import pytest
from stream_fixtures import free_tcp_port

from picam_ros.core.process import (
    Backoff,
    ManagedProcess,
    ProcessError,
    ProcessSpec,
    ProcessStopped,
    tcp_port_accepts,
    tcp_port_listening,
)

PY = sys.executable


def python_child(code: str, name: str = 'child', **spec_kwargs) -> ManagedProcess:
    return ManagedProcess(ProcessSpec(name=name, argv=[PY, '-c', textwrap.dedent(code)],
                                      **spec_kwargs))


# -- readiness ----------------------------------------------------------------------------------

def test_start_returns_only_once_the_delayed_tcp_server_accepts():
    port = free_tcp_port()
    server = python_child(f"""
        import socket, time
        time.sleep(0.4)
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('127.0.0.1', {port})); s.listen()
        while True:
            s.accept()[0].close()
        """, ready=lambda: tcp_port_accepts('127.0.0.1', port), ready_timeout=20)
    with server:
        assert tcp_port_accepts('127.0.0.1', port)
        assert tcp_port_listening(port)
    assert not tcp_port_listening(port)


def test_child_exiting_before_ready_raises_with_command_status_and_stderr_tail():
    child = python_child("""
        import sys
        print('first line', file=sys.stderr)
        print('config file broken: line 3', file=sys.stderr)
        sys.exit(3)
        """, name='broken', ready=lambda: False)
    with pytest.raises(ProcessError) as info:
        child.start()
    message = str(info.value)
    assert 'broken' in message
    assert 'exit status 3' in message
    assert 'config file broken: line 3' in message
    assert PY in message
    assert info.value.returncode == 3
    assert info.value.stderr_tail[-1] == 'config file broken: line 3'
    assert 'exited before it was ready' in child.last_error


def test_child_not_ready_in_time_is_stopped_and_reported():
    child = python_child('import time; time.sleep(60)', ready=lambda: False,
                         ready_timeout=0.3, stop_timeout=1.0)
    with pytest.raises(ProcessError, match='not ready after 0.3 s'):
        child.start()
    assert not child.is_alive()
    assert process_gone(child.pid)


@pytest.mark.parametrize('binary', ['picam-ros-no-such-binary', '/nonexistent/dir/mediamtx'])
def test_missing_binary_gives_one_clear_error_without_a_traceback_chain(binary):
    child = ManagedProcess(ProcessSpec(name='server', argv=[binary, '--flag']))
    with pytest.raises(ProcessError, match='not found') as info:
        child.start()
    assert binary in str(info.value)
    error = info.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    assert child.pid is None and not child.is_alive()


def test_stop_during_readiness_wait_raises_process_stopped_and_leaves_no_process():
    child = python_child('import time; time.sleep(60)', ready=lambda: False, ready_timeout=60)
    errors: list[BaseException] = []

    def start() -> None:
        try:
            child.start()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    starter = threading.Thread(target=start)
    starter.start()
    assert wait_until(lambda: child.pid is not None, timeout=10)
    child.stop()
    starter.join(timeout=10)
    assert not starter.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], ProcessStopped)
    assert process_gone(child.pid)


# -- backoff ------------------------------------------------------------------------------------

def test_backoff_doubles_then_caps():
    backoff = Backoff(initial=0.2, maximum=1.0, stable_after=10.0)
    assert [backoff.next_delay(0.1) for _ in range(6)] == [0.2, 0.4, 0.8, 1.0, 1.0, 1.0]


def test_backoff_resets_after_a_stable_run():
    backoff = Backoff(initial=0.2, maximum=5.0, stable_after=10.0)
    assert [backoff.next_delay(1.0) for _ in range(3)] == [0.2, 0.4, 0.8]
    assert backoff.next_delay(10.0) == 0.2
    assert backoff.next_delay(0.5) == 0.4


def test_restarts_are_counted_and_their_delays_double_until_capped():
    child = python_child('import time; time.sleep(60)', backoff_initial=0.01, backoff_max=0.04,
                         stable_after=3600)
    delays, pids = [], []
    with child:
        pids.append(child.pid)
        for attempt in range(4):
            assert child.restart(f'test restart {attempt}')
            delays.append(child.last_backoff)
            pids.append(child.pid)
            assert child.is_alive()
    assert delays == [0.01, 0.02, 0.04, 0.04]
    assert child.restarts == 4
    assert child.last_error == 'test restart 3'
    assert len(set(pids)) == 5
    assert all(process_gone(pid) for pid in pids)


def test_restart_after_a_stable_run_waits_only_the_initial_delay():
    child = python_child('import time; time.sleep(60)', backoff_initial=0.01, backoff_max=1.0,
                         stable_after=0.0)
    with child:
        for attempt in range(3):
            assert child.restart(f'stable run {attempt}')
            assert child.last_backoff == 0.01


def test_stop_interrupts_the_backoff_wait_of_a_restart():
    child = python_child('import time; time.sleep(60)', backoff_initial=60.0, backoff_max=60.0)
    child.start()
    first_pid = child.pid
    result: list[bool] = []
    restarter = threading.Thread(target=lambda: result.append(child.restart('crash')))
    restarter.start()
    assert wait_until(lambda: process_gone(first_pid), timeout=10)
    child.stop()
    restarter.join(timeout=10)
    assert not restarter.is_alive(), 'restart() kept waiting after stop()'
    assert result == [False]
    assert not child.is_alive()


def test_start_after_stop_works_again():
    child = python_child('import time; time.sleep(60)')
    for _ in range(3):
        child.start()
        assert child.is_alive()
        child.stop()
        assert not child.is_alive()


# -- stopping -----------------------------------------------------------------------------------

IGNORING_PARENT_WITH_GRANDCHILD = """
    import signal, subprocess, sys, time
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    grandchild = subprocess.Popen(['sleep', '60'])  # inherits the ignored signals
    print(grandchild.pid, flush=True)
    time.sleep(60)
    """


def test_child_ignoring_sigint_and_sigterm_is_killed_together_with_its_group():
    child = python_child(IGNORING_PARENT_WITH_GRANDCHILD, stdout_pipe=True, stop_timeout=0.4)
    child.start()
    grandchild_pid = int(child.stdout.readline())
    assert not process_gone(grandchild_pid)
    child.stop()
    assert child.returncode == -signal.SIGKILL
    assert process_gone(child.pid)
    assert wait_until(lambda: process_gone(grandchild_pid), timeout=10)


def test_kill_ends_a_hung_child_at_once_and_start_works_again():
    child = python_child('import time; time.sleep(60)', stop_timeout=30)
    child.start()
    hung = child.pid
    os.kill(hung, signal.SIGSTOP)
    child.kill()   # stop_timeout=30 would make an escalating stop take a minute
    assert child.returncode == -signal.SIGKILL
    assert process_gone(hung)
    child.start()
    assert child.is_alive() and child.pid != hung
    child.stop()


def test_gentle_child_stops_on_sigint_without_escalation():
    child = python_child("""
        import time
        try:
            print('handler installed', flush=True)
            time.sleep(60)
        except KeyboardInterrupt:
            raise SystemExit(7)
        """, stdout_pipe=True, stop_timeout=30)
    child.start()
    assert child.stdout.readline() == b'handler installed\n'
    child.stop()
    assert child.returncode == 7


GENTLE_PARENT = textwrap.dedent("""
    import sys
    from picam_ros.core.process import ManagedProcess, ProcessSpec
    CODE = (
        'import time\\n'
        'try:\\n'
        '    print("handler installed", flush=True)\\n'
        '    time.sleep(60)\\n'
        'except KeyboardInterrupt:\\n'
        '    raise SystemExit(7)\\n')
    child = ManagedProcess(ProcessSpec(name='gentle', argv=[sys.executable, '-c', CODE],
                                       stdout_pipe=True, stop_timeout=30))
    child.start()
    assert child.stdout.readline() == b'handler installed\\n'
    child.stop()
    print(child.returncode)
    """)


def test_child_of_a_parent_that_ignores_sigint_still_stops_on_sigint():
    # A parent started as a background job or under nohup ignores SIGINT, and an ignored signal
    # survives fork and exec: the child must get the default disposition back.
    result = subprocess.run(
        [PY, '-c', GENTLE_PARENT], capture_output=True, text=True, timeout=60, check=False,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ['7']


def test_stop_is_idempotent_and_safe_before_start():
    child = python_child('import time; time.sleep(60)')
    child.stop()
    child.start()
    pid = child.pid
    child.stop()
    child.stop()
    assert process_gone(pid)
    assert child.returncode is not None


def test_closing_stdin_lets_a_filter_child_finish_cleanly():
    child = python_child('import sys; sys.stdout.write(sys.stdin.read().upper())',
                         stdin_pipe=True, stdout_pipe=True)
    with child:
        child.stdin.write(b'frames')
        child.stdin.close()
        assert child.stdout.read() == b'FRAMES'
        assert child.wait(timeout=10) == 0


# -- output capture -----------------------------------------------------------------------------

def test_output_is_logged_and_only_the_last_lines_are_kept():
    child = python_child("""
        import sys
        for i in range(200):
            print(f'line {i}', file=sys.stderr)
        sys.stderr.write('progress 1\\rprogress 2\\r')
        print('on stdout too', flush=True)
        """, name='chatty', stderr_lines=5, output_level=logging.INFO)
    with records_of('picam_ros.core.process.chatty', logging.INFO) as records:
        child.start()
        assert child.wait(timeout=10) == 0
        child.stop()  # joins the output reader
    assert child.stderr_tail() == ['line 198', 'line 199', 'progress 1', 'progress 2',
                                   'on stdout too']
    logged = [r.getMessage() for r in records]
    assert '[chatty] line 0' in logged and '[chatty] on stdout too' in logged


def test_a_line_without_newline_is_cut_into_bounded_pieces():
    child = python_child("import sys; sys.stderr.write('x' * 100000)", stderr_lines=100)
    child.start()
    child.wait(timeout=10)
    child.stop()
    tail = child.stderr_tail()
    assert sum(map(len, tail)) == 100000
    assert max(map(len, tail)) <= 4096


def test_on_output_callback_sees_every_line():
    seen: list[str] = []
    child = python_child("print('Output #0, rtsp'); print('done')", on_output=seen.append)
    child.start()
    child.wait(timeout=10)
    child.stop()
    assert seen == ['Output #0, rtsp', 'done']


def test_env_entries_override_the_parent_environment():
    child = python_child("import os; print(os.environ['MTX_RTSPADDRESS'], os.environ['HOME'])",
                         env={'MTX_RTSPADDRESS': ':18554'})
    child.start()
    child.wait(timeout=10)
    child.stop()
    assert child.stderr_tail() == [f":18554 {os.environ['HOME']}"]


# -- no orphans ---------------------------------------------------------------------------------

OWNER_SCRIPT = """
    import sys, threading, time
    from picam_ros.core.process import ManagedProcess, ProcessSpec
    child = ManagedProcess(ProcessSpec(name='sleeper', argv=['sleep', '300']))
    # Start from a short-lived thread: the death signal must not fire when this thread ends.
    starter = threading.Thread(target=child.start)
    starter.start()
    starter.join()
    print(child.pid, flush=True)
    time.sleep(300)
    """


def test_child_survives_its_starting_thread_but_dies_with_a_sigkilled_owner():
    owner = subprocess.Popen([PY, '-c', textwrap.dedent(OWNER_SCRIPT)], stdout=subprocess.PIPE,
                             start_new_session=True)
    try:
        child_pid = int(owner.stdout.readline())
        # The starting thread has exited; the child is still running under the owner.
        assert not process_gone(child_pid)
        assert _parent_pid(child_pid) == owner.pid
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait(timeout=10)
        assert wait_until(lambda: process_gone(child_pid), timeout=10), 'orphan survived its owner'
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        owner.stdout.close()


def _parent_pid(pid: int) -> int:
    with open(f'/proc/{pid}/stat') as f:
        return int(f.read().rsplit(')', 1)[1].split()[1])
