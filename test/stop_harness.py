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

"""Start a command, send it a stop signal after a delay, report how it ended and what it left.

Run as ``python stop_harness.py DELAY SIGNAL -- COMMAND...``; prints one JSON object:
``status`` (exit code, -signal, or None when it still ran ``GUARD_S`` after the signal),
``stop_s`` (seconds from the signal to the exit), ``stderr``, and ``left``: the command lines
of processes the command left running (then killed here).

The harness is a child subreaper (``PR_SET_CHILD_SUBREAPER``): whatever the command started
and did not stop becomes the harness's child when the command exits, so it can be seen. The
signal goes to the command's process group, as a terminal's Ctrl-C does.

The command starts with the stop signals blocked, and they stay blocked until the program
unblocks them (:meth:`picam_ros.core.stop_request.StopRequest.install`, its first action): a signal
sent before that is pending, not lost, and arrives at the program's first instruction. That
keeps the interpreter's own start-up (before any line of the program runs, a window no program
can close) out of a sweep that is about the program.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time

from proctree import descendants

PR_SET_CHILD_SUBREAPER = 36
GUARD_S = 20.0   # failure guard only: a lost signal leaves the command running


def _cmdline(pid: int) -> str:
    try:
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            return f.read().replace(b'\0', b' ').decode(errors='replace').strip()
    except OSError:
        return f'pid {pid}'


def _blocked_stop_signals() -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, (signal.SIGINT, signal.SIGTERM))


def stop_after(delay: float, command: list[str], env: dict[str, str] | None = None,
               signame: str = 'SIGINT') -> dict:
    """Run ``command`` under this harness, stopped ``delay`` s after its start; the report.

    The report is the harness's JSON plus ``delay``; ``error`` is in it when the harness
    cannot run here (no ``PR_SET_CHILD_SUBREAPER``, as under qemu user emulation).
    """
    result = subprocess.run([sys.executable, __file__, str(delay), signame, '--', *command],
                            capture_output=True, text=True, env=env, timeout=3 * GUARD_S,
                            check=False)
    if result.returncode != 0 and 'SUBREAPER' not in result.stdout:
        raise RuntimeError(f'stop harness failed: {result.stdout}{result.stderr}')
    return {'delay': delay, **json.loads(result.stdout)}


def main() -> int:
    args = sys.argv[1:]
    delay, signame = float(args[0]), args[1]
    command = args[args.index('--') + 1:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print(json.dumps({'error': 'PR_SET_CHILD_SUBREAPER failed'}), flush=True)
        return 1
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=_blocked_stop_signals)  # noqa: PLW1509 - one syscall
    time.sleep(delay)   # the moment under test, not a wait for a condition
    sent = time.monotonic()
    os.killpg(proc.pid, getattr(signal, signame))
    try:
        _, stderr = proc.communicate(timeout=GUARD_S)
        status, stop_s = proc.returncode, time.monotonic() - sent
    except subprocess.TimeoutExpired:
        proc.kill()
        _, stderr = proc.communicate()
        status, stop_s = None, None
    left = sorted(descendants(os.getpid()))
    report = {'status': status, 'stop_s': stop_s, 'stderr': stderr,
              'left': [_cmdline(pid) for pid in left]}
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid in left:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    print(json.dumps(report), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
