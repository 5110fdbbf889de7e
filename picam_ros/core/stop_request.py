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

"""How a picam_ros process hears it was asked to stop, and the statuses it ends with.

A SIGINT or SIGTERM is *recorded*, never raised: the program checks the record at points of
its own choosing (after loading, after parsing its arguments, in its loops) and stops there
cleanly, with status ``EXIT_STOPPED`` whatever the moment. Raising from a handler cannot be
made safe: the exception lands wherever the main thread happens to be, and CPython 3.11 even
drops an exception a handler raises while ``compile()`` runs (which importing without a
bytecode cache and creating a dataclass both do): the old handler that raised ``SystemExit``
while the program loaded lost one Ctrl-C in twenty that way, and elsewhere turned it into
tracebacks from argparse, importlib or numpy, or a half-built rclpy ``Task`` whose finaliser
complained.

While a program only loads, a stop may end it at once instead (:meth:`StopRequest.exit_at_once`,
used by the console entry points): there is nothing to stop cleanly yet.

The record lives in the signal handler table itself (:meth:`StopRequest.install` finds the
one already installed), so the console entry point, which installs it before the program is
even imported, and the program's ``main()`` share it without a module global. Importing this
module costs only the ``signal`` module: that keeps the window before the handler is in place
as short as the interpreter's own start-up.
"""

from __future__ import annotations

import os
import signal
from types import FrameType

__all__ = ['EXIT_CAMERA_LOST', 'EXIT_CONFIG_ERROR', 'EXIT_STOPPED', 'STOP_SIGNALS',
           'StopRequest']

#: The signals that ask a process to stop gently (as Ctrl-C and a supervisor do).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: Exit status after a stop that was asked for (SIGINT, SIGTERM), at whatever moment it came.
EXIT_STOPPED = 0
#: A node's exit status when its camera is lost for good: launch respawns it.
EXIT_CAMERA_LOST = 1
#: Exit status for a configuration that cannot run (bad parameter file, value or flag, a
#: missing program or package): launch does not respawn it, the same configuration fails again.
EXIT_CONFIG_ERROR = 2


class StopRequest:
    """The process's record of SIGINT/SIGTERM, installed as their handler (see the module).

    The handler only assigns two attributes: it takes no lock (a lock the interrupted main
    thread holds would deadlock it) and raises nothing. ``is_set``/``set`` make it usable
    where a ``threading.Event`` is polled; a program thread may ``set`` it to stop the same way.
    """

    def __init__(self) -> None:
        self._requested = False
        self.signum: int | None = None
        self._exit_at_once: int | None = None

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        self.signum = signum
        self._requested = True
        if self._exit_at_once is not None:
            os._exit(self._exit_at_once)

    def exit_at_once(self, status: int) -> None:
        """Until :meth:`defer`, end the process at a stop signal, with ``status``, right away.

        For while a program only loads: nothing is started that a stop would have to undo
        (no child, no file, no output), and loading numpy or rclpy on a busy machine can take
        seconds that a deferred stop would wait for. ``os._exit`` raises nothing, so there is
        nothing for the interrupted code to drop or to turn into a traceback.
        """
        self._exit_at_once = status

    def defer(self) -> None:
        """Record stop signals from now on; the program checks the record at its own points."""
        self._exit_at_once = None

    def is_set(self) -> bool:
        """Tell whether a stop was asked for (by a signal or by :meth:`set`)."""
        return self._requested

    def set(self) -> None:
        self._requested = True

    @property
    def by_signal(self) -> bool:
        """Tell whether the stop came from outside (SIGINT or SIGTERM)."""
        return self.signum is not None

    @classmethod
    def install(cls, exit_at_once: int | None = None) -> StopRequest:
        """Record SIGINT/SIGTERM from now on; return the record (the one in place, if any).

        ``exit_at_once``: see :meth:`exit_at_once`. Main thread only. Also unblocks both
        signals in this thread: one sent while a parent kept them blocked across ``exec`` is
        pending, and is heard here and now.
        """
        current = signal.getsignal(signal.SIGINT)
        request = current if isinstance(current, cls) else cls()
        if exit_at_once is not None:
            request.exit_at_once(exit_at_once)
        for sig in STOP_SIGNALS:
            signal.signal(sig, request)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        return request
