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

"""Supervision of child processes (rpicam-vid, ffmpeg, MediaMTX).

A :class:`ManagedProcess` starts a command in its own session/process group, waits until a
readiness probe passes, restarts it with capped exponential backoff, stops it by escalating
SIGINT -> SIGTERM -> SIGKILL to the whole group, and keeps the last lines of its output for
error messages. No child outlives its owner:

* a normal stop signals the whole group and reaps the leader;
* if the owning Python process dies (even by SIGKILL) the kernel kills the child through
  ``PR_SET_PDEATHSIG`` (Linux).

``PR_SET_PDEATHSIG`` fires when the *thread* that forked the child exits, not when the process
does. Children started from a short-lived thread (a writer thread that ends on stop, an executor
worker) would be killed as soon as that thread finished. Every child is therefore forked by one
long-lived spawner thread that lives as long as the interpreter, so the death signal means "the
owning process died". The child also compares its parent pid after ``prctl`` to close the race
where the parent dies between ``fork`` and ``prctl``. Grandchildren are not covered by the death
signal (only by the group signals of a normal stop); the commands we run do not fork.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
import concurrent.futures
import ctypes
import ctypes.util
from dataclasses import dataclass, field
import errno
import ipaddress
import logging
import os
import queue
import re
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import IO
import weakref

from picam_ros.core.stop_request import STOP_SIGNALS

__all__ = [
    'STOP_SIGNALS',
    'Backoff',
    'ManagedProcess',
    'ProcessError',
    'ProcessSpec',
    'ProcessStopped',
    'die_with_parent',
    'tcp_port_accepts',
    'tcp_port_listening',
]

_PR_SET_PDEATHSIG = 1
_READY_POLL_S = 0.02
_MAX_LINE_BYTES = 4096
#: How long a stop waits for a SIGKILLed child to vanish before giving up on reaping it (a
#: child in uninterruptible sleep; Popen reaps it later). Bounds every wait on the stop path.
_KILL_WAIT_S = 1.0
_LINE_SPLIT = re.compile(rb'[\r\n]')


class ProcessError(RuntimeError):
    """A child could not be started, exited before it was ready, or was not ready in time.

    The message names the command, the exit status and the last lines of its output.
    """

    def __init__(self, message: str, *, name: str = '', argv: list[str] | None = None,
                 returncode: int | None = None, stderr_tail: list[str] | None = None) -> None:
        super().__init__(message)
        self.name = name
        self.argv = list(argv or [])
        self.returncode = returncode
        self.stderr_tail = list(stderr_tail or [])


class ProcessStopped(ProcessError):
    """``stop()`` was called while ``start()``/``restart()`` was waiting."""


@dataclass
class ProcessSpec:
    """What to run and how to supervise it.

    ``env`` entries are added to (and override) the parent's environment. When ``stdout_pipe``
    is false the child's stdout is captured together with its stderr (MediaMTX logs to stdout).
    ``stable_after``: a run at least this long resets the restart backoff to ``backoff_initial``.
    ``on_output`` is called from the reader thread with every output line (keep it cheap).
    ``stdin_eof_grace``: on stop, after closing stdin, give the child this long to exit on its
    own before signalling it (an encoder flushes and closes its output cleanly on EOF).
    ``new_session``: the child leads a session of its own (else only a process group of its own,
    in our session; Python 3.11+). A session is a scheduling autogroup on Linux
    (CONFIG_SCHED_AUTOGROUP): on a loaded machine a child alone in one waits longer for a CPU, so
    a latency-critical child (the stream encoder) stays in ours.
    """

    name: str
    argv: list[str]
    stdin_pipe: bool = False
    stdout_pipe: bool = False
    ready: Callable[[], bool] | None = None
    ready_timeout: float = 5.0
    stop_timeout: float = 2.0
    backoff_initial: float = 0.2
    backoff_max: float = 5.0
    stderr_lines: int = 50
    env: dict[str, str] | None = None
    stable_after: float = 10.0
    output_level: int = logging.DEBUG
    on_output: Callable[[str], None] | None = None
    death_signal: int = signal.SIGKILL
    stdin_eof_grace: float = 0.0
    cwd: str | None = None   # working directory of the child (None: ours)
    new_session: bool = True

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError('ProcessSpec.name must not be empty')
        if isinstance(self.argv, (str, bytes)) or not self.argv:
            raise ValueError(f'{self.name}: argv must be a non-empty list of strings')
        self.argv = [os.fspath(a) for a in self.argv]
        for key in ('ready_timeout', 'stop_timeout', 'backoff_initial'):
            if not getattr(self, key) > 0:
                raise ValueError(f'{self.name}: {key} must be > 0, got {getattr(self, key)!r}')
        if self.backoff_max < self.backoff_initial:
            raise ValueError(f'{self.name}: backoff_max ({self.backoff_max}) must be >= '
                             f'backoff_initial ({self.backoff_initial})')
        if self.stable_after < 0 or self.stdin_eof_grace < 0:
            raise ValueError(f'{self.name}: stable_after and stdin_eof_grace must be >= 0')
        if self.stderr_lines < 1:
            raise ValueError(f'{self.name}: stderr_lines must be >= 1')

    @property
    def command(self) -> str:
        """Return the command line as a shell would show it (for messages)."""
        return shlex.join(self.argv)


@dataclass
class Backoff:
    """Capped exponential restart delay that resets after a stable or productive run.

    ``next_delay(run_seconds, productive)`` returns the delay to wait before the next start,
    given how long the previous run lasted and whether it did its job (a source that delivered
    frames): ``initial, 2*initial, 4*initial, ...`` capped at ``maximum`` while runs fail, back
    to ``initial`` after a productive run or one of at least ``stable_after`` seconds. So a
    camera killed now and then is back at once however often it happens, and only a child that
    never works backs off.
    """

    initial: float
    maximum: float
    stable_after: float
    _next: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._next = self.initial

    def next_delay(self, run_seconds: float, productive: bool = False) -> float:
        if productive or run_seconds >= self.stable_after:
            self._next = self.initial
        delay = self._next
        self._next = min(self._next * 2.0, self.maximum)
        return delay

    def reset(self) -> None:
        self._next = self.initial


def tcp_port_accepts(host: str, port: int, timeout: float = 0.2) -> bool:
    """Return True when a TCP connection to ``host:port`` succeeds (a readiness probe).

    Note the probe is a real connection: servers that accept only one client (an ffmpeg RTSP
    listener) must be probed with :func:`tcp_port_listening` instead.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tcp_port_listening(port: int) -> bool:
    """Return True when a socket on this machine listens on TCP ``port`` (Linux /proc/net).

    Unlike :func:`tcp_port_accepts` this does not connect, so it neither disturbs one-shot
    listeners nor adds connection noise to a server's log.
    """
    wanted = f':{port:04X}'
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(table, encoding='ascii') as f:
                next(f, None)
                for line in f:
                    fields = line.split()
                    # fields[1] = local address "ADDR:PORT" (hex), fields[3] = state, 0A = LISTEN
                    if len(fields) > 3 and fields[3] == '0A' and fields[1].endswith(wanted):
                        return True
        except OSError:
            continue
    return False


def _describe_status(returncode: int | None) -> str:
    if returncode is None:
        return 'still running'
    if returncode < 0:
        try:
            return f'killed by {signal.Signals(-returncode).name}'
        except ValueError:
            return f'killed by signal {-returncode}'
    return f'exit status {returncode}'


def _find_prctl() -> Callable[..., int] | None:
    """Return libc's ``prctl`` (Linux), or None where there is none."""
    if os.uname().sysname != 'Linux':
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                      ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


def die_with_parent(death_signal: int = signal.SIGINT) -> bool:
    """Ask the kernel to send this process ``death_signal`` when its parent dies (Linux).

    For a process whose starter cannot be trusted to stop it: ``ros2 launch`` ended by SIGTERM
    or SIGKILL leaves the processes it started running (launch's own warning: "using SIGTERM
    can result in orphaned processes"). With SIGINT the process then stops as on Ctrl-C, and its
    own children go with it. The signal fires when the parent's *thread* that started this
    process exits, so use it only under a starter that forks from a thread living as long as
    itself (launch's event loop does). Returns False where it is not available.
    """
    prctl = _find_prctl()
    if prctl is None:
        return False
    return prctl(_PR_SET_PDEATHSIG, int(death_signal), 0, 0, 0) == 0


class _Spawner:
    """The one long-lived thread that forks every child (see the module docstring)."""

    _instance: _Spawner | None = None
    _instance_lock = threading.Lock()

    @classmethod
    def get(cls) -> _Spawner:
        with cls._instance_lock:
            if cls._instance is None or not cls._instance._thread.is_alive():
                cls._instance = cls()
            return cls._instance

    def __init__(self) -> None:
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._prctl = _find_prctl()
        self._thread = threading.Thread(target=self._run, name='picam-spawner', daemon=True)
        self._thread.start()

    def spawn(self, death_signal: int, **popen_kwargs) -> subprocess.Popen:
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._requests.put((death_signal, popen_kwargs, future))
        return future.result()

    def _run(self) -> None:
        # Stop signals are blocked in this thread, so in a child it forks until its hook
        # unblocks them. Between fork and exec the child runs Python (the interpreter's after-
        # fork hooks, then ours) with the parent's handlers: a Ctrl-C to the process group
        # landing there was a KeyboardInterrupt traceback from the half-made child. Blocked,
        # it waits until the hook has restored the default action, and then ends the child as
        # it would after exec. The kernel gives these signals to a thread that does not block
        # them (Python runs handlers in the main thread anyway).
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        while True:
            death_signal, popen_kwargs, future = self._requests.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                # preexec_fn is deliberate: the hook makes two syscalls (prctl, getppid), takes
                # no locks and allocates nothing, which is what "unsafe with threads" is about.
                popen = subprocess.Popen(
                    preexec_fn=self._child_setup(death_signal),  # noqa: PLW1509
                    **popen_kwargs)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                future.set_exception(exc)
            else:
                future.set_result(popen)

    def _child_setup(self, death_signal: int) -> Callable[[], None]:
        prctl = self._prctl
        parent_pid = os.getpid()

        def in_child_before_exec() -> None:
            # Runs between fork and exec: keep it to a few syscalls, no allocation, no locks.
            # A stop signal pending here was sent to our process group (a Ctrl-C) before the
            # child moved to a group of its own: it was meant for the parent, which stops this
            # child its own way; delivered at the unblock below it killed a MediaMTX that was
            # coming up. Ignoring a signal discards it when pending (POSIX), so ignore first.
            # Then the default action: an ignored signal stays ignored across exec, and a parent
            # started as a background job (or under nohup) ignores SIGINT, so its children
            # would ignore the SIGINT that stops them gently, and every stop would escalate.
            for sig in STOP_SIGNALS:
                signal.signal(sig, signal.SIG_IGN)
                signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)   # see _run
            if prctl is None:
                return
            prctl(_PR_SET_PDEATHSIG, death_signal, 0, 0, 0)
            if os.getppid() != parent_pid:  # the parent died before prctl took effect
                os.kill(os.getpid(), signal.SIGKILL)

        return in_child_before_exec


class _Run:
    """One spawned instance of the command: the Popen plus its pidfd, output reader and tail."""

    def __init__(self, popen: subprocess.Popen, output_fd: int, spec: ProcessSpec,
                 logger: logging.Logger) -> None:
        self.popen = popen
        self.pgid = popen.pid  # start_new_session: the child leads its own group
        self.started = time.monotonic()
        self.tail: collections.deque[str] = collections.deque(maxlen=spec.stderr_lines)
        self.tail_lock = threading.Lock()
        self.stop_lock = threading.Lock()
        self.pidfd: int | None = None
        if hasattr(os, 'pidfd_open'):
            try:
                self.pidfd = os.pidfd_open(popen.pid)
            except OSError:
                self.pidfd = None
            else:
                # Closed when the last holder of this run lets go, never under a thread that
                # is waiting on it (a recycled descriptor number could block that wait forever).
                weakref.finalize(self, os.close, self.pidfd)
        self._spec = spec
        self._logger = logger
        self.reader = threading.Thread(target=self._pump, args=(output_fd,),
                                       name=f'{spec.name}-output', daemon=True)
        self.reader.start()

    def tail_lines(self) -> list[str]:
        with self.tail_lock:
            return list(self.tail)

    def _emit(self, raw: bytes) -> None:
        line = raw.decode('utf-8', 'replace').rstrip()
        if not line:
            return
        with self.tail_lock:
            self.tail.append(line)
        self._logger.log(self._spec.output_level, '[%s] %s', self._spec.name, line)
        if self._spec.on_output is not None:
            try:
                self._spec.on_output(line)
            except Exception:  # a faulty callback must not kill the reader (and block the child)
                self._logger.exception('%s: output callback failed', self._spec.name)

    def _pump(self, fd: int) -> None:
        pending = b''
        try:
            while True:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                *lines, pending = _LINE_SPLIT.split(pending + chunk)
                for raw in lines:
                    self._emit(raw)
                while len(pending) > _MAX_LINE_BYTES:  # output without newlines stays bounded
                    self._emit(pending[:_MAX_LINE_BYTES])
                    pending = pending[_MAX_LINE_BYTES:]
            self._emit(pending)
        finally:
            os.close(fd)

    def exited(self, timeout: float | None) -> bool:
        """Wait up to ``timeout`` for the leader to exit *without reaping it* (when possible).

        Keeping the leader a zombie keeps its pid (= the group id) from being reused, so the
        final SIGKILL to the group cannot hit an unrelated process.
        """
        if self.popen.returncode is not None:
            return True
        if self.pidfd is not None:
            readable, _, _ = select.select([self.pidfd], [], [], timeout)
            return bool(readable)
        try:
            self.popen.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pgid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:  # group gone and id reused by someone else: nothing of ours left
            pass

    def kill(self, stop_timeout: float) -> None:
        """SIGKILL the group at once (for a hung child), reap, close pipes."""
        with self.stop_lock:
            if self.popen.returncode is None:
                self.signal_group(signal.SIGKILL)
                self._reap_killed()
            self._close(stop_timeout)

    def _reap_killed(self) -> None:
        """Reap a leader that was sent SIGKILL, clearing the rest of its group; bounded."""
        if self.exited(_KILL_WAIT_S):
            # Leader gone (still a zombie when pidfd exists): clear the rest of its group.
            self.signal_group(signal.SIGKILL)
            self.popen.wait()
        else:
            self._logger.error('%s: pid %d did not end %.1f s after SIGKILL (uninterruptible '
                               'sleep?); leaving it', self._spec.name, self.popen.pid,
                               _KILL_WAIT_S)

    def _close(self, stop_timeout: float) -> None:
        _close_quietly(self.popen.stdin)
        _close_quietly(self.popen.stdout)
        self.reader.join(timeout=stop_timeout)

    def terminate(self, stop_timeout: float, eof_grace: float = 0.0) -> None:
        """Close our pipe ends, SIGINT, SIGTERM, SIGKILL the group as needed; reap.

        The read end of a stdout pipe is closed first: a child blocked writing a frame into a
        full pipe (nobody drains it any more) then fails that write with EPIPE and exits on
        SIGINT at once, instead of sitting in the write until SIGKILL.
        """
        with self.stop_lock:
            if self.popen.returncode is None:
                _close_quietly(self.popen.stdout)
                if self.popen.stdin is not None:
                    _close_quietly(self.popen.stdin)
                    if eof_grace > 0:
                        self.exited(eof_grace)
                for sig in (signal.SIGINT, signal.SIGTERM):
                    if self.exited(0):
                        break
                    if sig == signal.SIGTERM:
                        self._logger.info('%s: pid %d did not end %.1f s after SIGINT; sending '
                                          'SIGTERM', self._spec.name, self.popen.pid,
                                          stop_timeout / 2)
                    self.signal_group(sig)
                    if self.exited(stop_timeout / 2):
                        break
                else:
                    self._log_escalation()
                    self.signal_group(signal.SIGKILL)
                if self.exited(0):
                    self.signal_group(signal.SIGKILL)   # the rest of its group
                    self.popen.wait()
                else:
                    self._reap_killed()
            self._close(stop_timeout)

    def _log_escalation(self) -> None:
        self._logger.warning('%s: pid %d ignored SIGINT and SIGTERM; sending SIGKILL',
                             self._spec.name, self.popen.pid)


def _close_quietly(stream: IO[bytes] | None) -> None:
    if stream is None:
        return
    try:
        stream.close()
    except OSError:
        pass


class ManagedProcess:
    """A supervised child process (see the module docstring for the guarantees).

    Thread safety: ``stop()`` may be called from any thread at any time and interrupts a
    concurrent ``start()`` readiness wait or ``restart()`` backoff wait (those then raise
    :class:`ProcessStopped` / return ``False``). ``start()``/``restart()`` are meant to be driven
    by one thread at a time (the owner's I/O thread).
    """

    def __init__(self, spec: ProcessSpec, logger: logging.Logger | None = None) -> None:
        self.spec = spec
        self.logger = logger or logging.getLogger(f'picam_ros.core.process.{spec.name}')
        self.restarts = 0
        self.last_error: str | None = None
        self.last_backoff: float | None = None
        self._backoff = Backoff(spec.backoff_initial, spec.backoff_max, spec.stable_after)
        self._cond = threading.Condition(threading.Lock())
        self._epoch = 0  # bumped by stop(); waits compare against the value they started with
        self._run: _Run | None = None

    # -- public API ---------------------------------------------------------------------------

    @property
    def stdin(self) -> IO[bytes] | None:
        run = self._run
        return run.popen.stdin if run else None

    @property
    def stdout(self) -> IO[bytes] | None:
        run = self._run
        return run.popen.stdout if run else None

    @property
    def pid(self) -> int | None:
        run = self._run
        return run.popen.pid if run else None

    @property
    def returncode(self) -> int | None:
        run = self._run
        return run.popen.poll() if run else None

    def is_alive(self) -> bool:
        run = self._run
        return run is not None and run.popen.poll() is None

    def stderr_tail(self) -> list[str]:
        """Return the last ``spec.stderr_lines`` output lines of the current (or last) run."""
        run = self._run
        return run.tail_lines() if run else []

    def start(self) -> None:
        """Spawn the command and wait until ``spec.ready()`` passes.

        Raises :class:`ProcessError` (command, exit status, output tail) when the binary cannot
        be run, the child exits first, or it is not ready within ``spec.ready_timeout``;
        :class:`ProcessStopped` when ``stop()`` is called meanwhile. Starting a running process
        does nothing.
        """
        with self._cond:
            epoch = self._epoch
        self._start(epoch)

    def stop(self) -> None:
        """Stop the child and its group (SIGINT, SIGTERM, SIGKILL); reap it. Idempotent."""
        with self._cond:
            self._epoch += 1
            self._cond.notify_all()
            run = self._run
        if run is not None:
            run.terminate(self.spec.stop_timeout, self.spec.stdin_eof_grace)

    def kill(self) -> None:
        """Kill the current child and its group now (no grace: it is hung); reap it.

        Unlike :meth:`stop` this does not interrupt a concurrent ``start``/``restart``; it is
        for the owner's I/O thread that found its child stuck and will ``restart`` it.
        """
        run = self._run
        if run is not None:
            run.kill(self.spec.stop_timeout)

    def restart(self, reason: str, *, productive: bool = False, hung: bool = False,
                waited: float = 0.0) -> bool:
        """Stop, wait the current backoff delay, start again.

        Counts the restart, records ``reason`` as ``last_error``. The delay doubles up to
        ``backoff_max`` while runs fail, and is back to ``backoff_initial`` after a run that was
        ``productive`` (the owner got what it wanted from it, e.g. frames) or lasted
        ``stable_after`` seconds. A ``hung`` child is killed at once instead of being asked to
        stop (it would not answer SIGINT or SIGTERM). ``waited``: how long the owner already
        waited on the child before deciding to restart it (the silence that showed a hang);
        it counts towards the delay. Returns ``False`` (without starting) when
        ``stop()`` interrupts the wait; raises :class:`ProcessError` when the new start fails
        (call ``restart`` again to retry with a longer delay).
        """
        with self._cond:
            epoch = self._epoch
            run = self._run
        ran = time.monotonic() - run.started if run else 0.0
        if run is not None:
            if hung:
                run.kill(self.spec.stop_timeout)
            else:
                run.terminate(self.spec.stop_timeout)
        delay = max(0.0, self._backoff.next_delay(ran, productive) - waited)
        self.restarts += 1
        self.last_backoff = delay
        self.last_error = reason
        self.logger.warning('%s: restarting in %.2f s (restart %d): %s',
                            self.spec.name, delay, self.restarts, reason)
        with self._cond:
            if self._cond.wait_for(lambda: self._epoch != epoch, timeout=delay):
                return False
        try:
            self._start(epoch)
        except ProcessStopped:
            return False
        return True

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the current child to exit; its return code, or ``None`` on timeout."""
        run = self._run
        if run is None:
            return None
        if not run.exited(timeout):
            return None
        return run.popen.wait()

    def __enter__(self) -> ManagedProcess:  # noqa: PYI034 - typing.Self needs 3.11
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- internals ----------------------------------------------------------------------------

    def _error(self, message: str, run: _Run | None, cls: type[ProcessError] = ProcessError
               ) -> ProcessError:
        tail = run.tail_lines() if run else []
        returncode = run.popen.returncode if run else None
        text = f'{self.spec.name}: {message}\n  command: {self.spec.command}'
        if tail:
            text += '\n  last output:\n    ' + '\n    '.join(tail[-10:])
        if cls is not ProcessStopped:
            self.last_error = message
        return cls(text, name=self.spec.name, argv=self.spec.argv, returncode=returncode,
                   stderr_tail=tail)

    def _resolve_binary(self) -> str:
        exe = self.spec.argv[0]
        resolved = find_executable(exe)
        if resolved is None:
            raise self._error(f'cannot start: {exe!r} not found or not executable (is it '
                              f'installed and on PATH?)', None)
        return resolved

    def _spawn(self) -> _Run:
        exe = self._resolve_binary()
        env = None
        if self.spec.env:
            env = dict(os.environ)
            env.update({str(k): str(v) for k, v in self.spec.env.items()})
        read_fd, write_fd = os.pipe()
        try:
            popen = _Spawner.get().spawn(
                self.spec.death_signal,
                args=[exe, *self.spec.argv[1:]],
                stdin=subprocess.PIPE if self.spec.stdin_pipe else subprocess.DEVNULL,
                stdout=subprocess.PIPE if self.spec.stdout_pipe else write_fd,
                stderr=write_fd,
                bufsize=0,
                env=env,
                cwd=self.spec.cwd,
                # Either way the child leads its own process group (pgid == pid, see _Run).
                **({'start_new_session': True} if self.spec.new_session
                   or sys.version_info < (3, 11) else {'process_group': 0}),
            )
        except OSError as exc:
            os.close(read_fd)
            reason = errno.errorcode.get(exc.errno or 0, '') or type(exc).__name__
            raise self._error(f'cannot start {exe!r}: {exc.strerror or exc} ({reason})',
                              None) from None
        except subprocess.SubprocessError as exc:
            os.close(read_fd)
            raise self._error(f'cannot start {exe!r}: {exc}', None) from None
        finally:
            os.close(write_fd)
        return _Run(popen, read_fd, self.spec, self.logger)

    def _start(self, epoch: int) -> None:
        with self._cond:
            if self._epoch != epoch:
                raise self._error('stopped before start', None, ProcessStopped)
            if self._run is not None and self._run.popen.poll() is None:
                return
            old = self._run
        if old is not None:
            old.terminate(self.spec.stop_timeout)  # reaps and closes the pipes of a dead run
        with self._cond:
            if self._epoch != epoch:
                raise self._error('stopped before start', None, ProcessStopped)
            run = self._run = self._spawn()
        self.logger.debug('%s: started pid %d: %s', self.spec.name, run.popen.pid,
                          self.spec.command)
        self._await_ready(run, epoch)

    def _await_ready(self, run: _Run, epoch: int) -> None:
        ready = self.spec.ready
        deadline = time.monotonic() + self.spec.ready_timeout
        while True:
            if run.popen.poll() is not None:
                if ready is None and run.popen.returncode == 0:
                    # Nothing to wait for, and it ran to a clean end before we looked: as if
                    # it had exited just after start() returned (the supervisor sees it).
                    return
                run.reader.join(timeout=self.spec.stop_timeout)  # complete the output tail
                status = _describe_status(run.popen.returncode)
                run.terminate(self.spec.stop_timeout)
                raise self._error(f'exited before it was ready ({status})', run)
            if ready is None or ready():
                return
            if time.monotonic() >= deadline:
                run.terminate(self.spec.stop_timeout)
                raise self._error(
                    f'not ready after {self.spec.ready_timeout:g} s (stopped it)', run)
            with self._cond:
                if self._cond.wait_for(lambda: self._epoch != epoch, timeout=_READY_POLL_S):
                    stopped = True
                else:
                    stopped = False
            if stopped:
                run.terminate(self.spec.stop_timeout)
                raise self._error('stopped while waiting for readiness', run, ProcessStopped)


def server_probe(host: str, port: int) -> Callable[[], bool]:
    """Build a readiness check for an RTSP server at ``host:port``.

    On this machine it only looks (``tcp_port_listening``): a connection would show in the
    server's log at every check and would consume a one-shot listener such as
    ``ffmpeg -rtsp_flags listen``. Elsewhere it connects (``tcp_port_accepts``).
    """
    try:
        local = ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = host == 'localhost'
    if local:
        return lambda: tcp_port_listening(port)
    return lambda: tcp_port_accepts(host, port)


def find_executable(name: str) -> str | None:
    """Return the executable a child would run for ``name``, or None when there is none.

    A name with a path separator is taken as a path; any other is looked up on PATH. Either way
    the result is an existing, executable file: the one lookup every child start relies on.
    """
    found = shutil.which(name) if os.sep not in name else name
    if found is None or not os.path.isfile(found) or not os.access(found, os.X_OK):
        return None
    return found
