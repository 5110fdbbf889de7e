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

"""A bounded, quiet teardown once a process has been asked to stop (ROS-free).

Ctrl-C on ``ros2 launch`` sends SIGINT twice to every node: once from the terminal to the
process group, then launch's own. The second one used to land inside ``destroy_node()`` as a
``KeyboardInterrupt`` traceback, and a teardown stuck on a busy thread made launch escalate to
SIGTERM and SIGKILL after 5 s. :class:`StopGuard` closes both: :meth:`StopGuard.arm`, called as
soon as the stop is known, ignores further SIGINT/SIGTERM and starts a watchdog that ends the
process after ``deadline`` seconds, whatever its threads are doing; children go with it (they
are started with ``PR_SET_PDEATHSIG``, see :mod:`picam_ros.core.process`). :meth:`StopGuard.done`
ends the watch once the teardown returned.

A node blocked in its executor hears a stop through :class:`StopWatcher`: a thread that Python's
own C-level signal handler wakes at once (the wakeup fd), whatever the main thread is doing,
and that shuts the node's context down (which wakes the executor).

A node started by the package's launch files also stops when launch itself dies:
``ros2 launch`` ended by SIGTERM (``timeout``, a supervisor) or SIGKILL leaves the processes it
started running. Its launch files hand each node the launcher's pid (``LAUNCHER_PID_ENV``), and
:func:`stop_with_launcher` has the kernel send the node SIGINT when that parent dies, so it
stops as on Ctrl-C and its children go with it.
"""

from __future__ import annotations

from collections.abc import Callable
import os
import signal
import sys
import threading

from picam_ros.core.process import die_with_parent
from picam_ros.core.stop_request import (
    EXIT_CAMERA_LOST,
    EXIT_CONFIG_ERROR,
    EXIT_STOPPED,
    STOP_SIGNALS,
)

__all__ = ['EXIT_CAMERA_LOST', 'EXIT_CONFIG_ERROR', 'EXIT_STOPPED', 'LAUNCHER_PID_ENV',
           'TEARDOWN_DEADLINE_S', 'StopGuard', 'StopWatcher', 'stop_with_launcher']

#: Longest teardown after a stop request. Below launch's 5 s SIGINT -> SIGTERM escalation and
#: the 2 s a node may take to end after SIGINT or SIGTERM.
TEARDOWN_DEADLINE_S = 1.5
#: Environment entry the launch files set for each node: the pid of the launch process.
LAUNCHER_PID_ENV = 'PICAM_ROS_LAUNCHER_PID'


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True   # another user's process
    return True


def stop_with_launcher(environ: dict[str, str] | None = None) -> bool:
    """Stop this process (SIGINT) when the launch process that started it dies.

    Only when ``LAUNCHER_PID_ENV`` names this process's parent: under a launch prefix (gdb,
    valgrind) the parent is the prefix program, and a node started by hand has no launcher, so
    neither is watched. Returns whether the watch is set. Were the launcher gone already, before
    the check (launch failing right after it started this node) or between the check and the
    watch, the node is signalled at once.
    """
    text = (os.environ if environ is None else environ).get(LAUNCHER_PID_ENV, '')
    if not text.isdigit():
        return False
    if os.getppid() != int(text):
        if _exists(int(text)):
            return False   # a launch prefix stands between: not watched
        os.kill(os.getpid(), signal.SIGINT)   # the launcher died before this process looked
        return True
    if not die_with_parent(signal.SIGINT):
        return False
    if os.getppid() != int(text):   # the launcher died before the watch was set
        os.kill(os.getpid(), signal.SIGINT)
    return True


class StopGuard:
    """Ignore repeated stop signals during teardown and bound the teardown (see the module)."""

    def __init__(self, name: str, deadline: float = TEARDOWN_DEADLINE_S) -> None:
        if not deadline > 0:
            raise ValueError(f'deadline must be > 0 s, got {deadline}')
        self.name = name
        self.deadline = deadline
        self._finished = threading.Event()
        self._watchdog: threading.Thread | None = None
        self._status = 0

    @property
    def armed(self) -> bool:
        """Tell whether the teardown has started (and is being watched)."""
        return self._watchdog is not None

    def arm(self, status: int = 0) -> None:
        """Start the watched teardown; the watchdog exits with ``status``. Main thread only.

        Arming again does nothing: the first call's status and deadline hold.
        """
        self.ignore_stop_signals()
        if self._watchdog is None:
            self._status = status
            self._watchdog = threading.Thread(target=self._watch, name='picam-stop-guard',
                                              daemon=True)
            self._watchdog.start()

    def done(self) -> None:
        """End the watch: the teardown returned (stop signals stay ignored until exit)."""
        # rclpy's shutdown puts back the handlers it replaced, Python's KeyboardInterrupt among
        # them; a late SIGINT must not become a traceback on the way out either.
        self.ignore_stop_signals()
        self._finished.set()

    @staticmethod
    def ignore_stop_signals() -> None:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                signal.signal(sig, signal.SIG_IGN)

    def _watch(self) -> None:
        if self._finished.wait(self.deadline):
            return
        try:
            sys.stderr.write(f'[{self.name}] teardown still busy {self.deadline:g} s after the '
                             f'stop request; exiting now\n')
            sys.stderr.flush()
        finally:
            os._exit(self._status or 1)


class StopWatcher:
    """Call ``on_stop`` on a thread of its own as soon as SIGINT or SIGTERM arrives.

    A Python signal handler runs only when the main thread next executes Python code, so a
    main thread blocked in C (an rclpy executor in ``rcl_wait``) hears nothing until something
    else wakes it. rclpy's own handler (Jazzy) wakes its executors *before* it shuts their
    contexts down, on another thread: an executor that woke, still found its context valid
    and waited again slept until its next timer (the camera node's 1 s diagnostics: 9 of 100
    Ctrl-Cs took 0.5-1.0 s, with the context down after 1-3 ms). Python's C-level handler
    writes the signal number to the wakeup fd at once, from any state; this thread reads it
    there. Install from the main thread (``signal.set_wakeup_fd``), with a Python handler for
    both signals in place (:class:`picam_ros.core.stop_request.StopRequest`); :meth:`close` from
    the main thread, too.
    """

    def __init__(self, on_stop: Callable[[], None], name: str = 'picam-stop-watcher') -> None:
        self._on_stop = on_stop
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)   # the C-level handler must never block on it
        self._closing = False
        try:
            self._previous = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        except BaseException:
            os.close(self._read)
            os.close(self._write)
            raise
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def close(self, timeout: float = 1.0) -> None:
        """Stop watching and give the wakeup fd back; idempotent. Main thread only."""
        if self._closing:
            return
        self._closing = True
        signal.set_wakeup_fd(self._previous)
        try:
            os.write(self._write, b'\0')   # wakes the thread if it still reads
        except OSError:
            pass   # the pipe is full of signal numbers: the thread is awake anyway
        self._thread.join(timeout)
        if not self._thread.is_alive():
            os.close(self._read)
        os.close(self._write)

    def _run(self) -> None:
        while not self._closing:
            try:
                numbers = os.read(self._read, 64)
            except OSError:
                return
            if not numbers or self._closing:
                return
            if any(number in STOP_SIGNALS for number in numbers):
                self._on_stop()
                return   # one stop is enough; later signals are the StopGuard's
