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

"""Start a command under a stand-in for ``ros2 launch``, kill that launcher, report the command.

The harness is a child subreaper (``PR_SET_CHILD_SUBREAPER``): when the launcher dies, the
command it started becomes the harness's child, so its exit status can be read (an orphan's
status otherwise goes to init). Protocol on stdout (shared with the command's own output), one
JSON object per line: ``{"pid": N}`` once the command runs; after a line on stdin the launcher
is SIGKILLed, then ``{"status": S}`` (exit code, or -signal) or ``{"alive": true}`` when the
command still runs ``GUARD_S`` later (then it is killed). Run as
``python launcher_harness.py -- COMMAND...``.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
GUARD_S = 30.0   # failure guard only
LAUNCHER = """
import os, subprocess, sys
env = dict(os.environ, PICAM_ROS_LAUNCHER_PID=str(os.getpid()))
child = subprocess.Popen(sys.argv[2:], env=env)
os.write(int(sys.argv[1]), b'%d\\n' % child.pid)
child.wait()
"""


def subreaper_refusal() -> str | None:
    """Say why this system refuses ``PR_SET_CHILD_SUBREAPER`` (None: it is granted).

    Asked in a child process, so the caller does not become a subreaper itself. qemu-user 7.2
    (arm64 emulation) answers EINVAL; Linux has granted it since 3.4.
    """
    probe = ('import ctypes, sys; libc = ctypes.CDLL(None, use_errno=True); '
             f'sys.exit(0 if libc.prctl({PR_SET_CHILD_SUBREAPER}, 1, 0, 0, 0) == 0 '
             'else ctypes.get_errno() or 255)')
    code = subprocess.run([sys.executable, '-c', probe], check=False).returncode
    if code == 0:
        return None
    name = os.strerror(code) if 0 < code < 255 else f'status {code}'
    return (f'prctl(PR_SET_CHILD_SUBREAPER) is refused here ({name}; qemu-user 7.2 emulation '
            f'answers EINVAL): the launcher stand-in cannot adopt the command it watches')


def say(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def main() -> int:
    args = sys.argv[1:]
    command = args[args.index('--') + 1:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        say(error='PR_SET_CHILD_SUBREAPER failed')
        return 1
    # The command writes to our stdout; the launcher tells its pid through a pipe of its own.
    read_end, write_end = os.pipe()
    launcher = subprocess.Popen([sys.executable, '-c', LAUNCHER, str(write_end), *command],
                                pass_fds=(write_end,))
    os.close(write_end)
    with os.fdopen(read_end) as pid_pipe:
        pid = int(pid_pipe.readline())
    say(pid=pid)
    sys.stdin.readline()
    launcher.kill()
    launcher.wait()
    deadline = time.monotonic() + GUARD_S
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            say(status=os.waitstatus_to_exitcode(status))
            return 0
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    say(alive=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
