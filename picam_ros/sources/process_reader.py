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

"""Child-process sources: a child writing raw frames on stdout, read by a worker thread.

:class:`ProcessSource` (the base of the rpicam and ffmpeg sources) reads the child's stdout on
its own thread with exact-size reads, so the pipe is always drained, the newest frame is always
the one handed out, and frames the consumer was too slow to take are counted as drops. A short
read, EOF, a dead child or a hung one (no complete frame within ``frame_timeout``) restarts the
child with capped backoff; only an unrecoverable fault (binary missing, frames of the wrong size,
a first frame that is no image, ``max_failures`` runs in a row without a single frame) raises
:class:`SourceError`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
import fcntl
import logging
import math
import os
import select
import threading
import time
from typing import Any, ClassVar

import numpy as np

from picam_ros.core.config import config_field, ConfigBase, ConfigError
from picam_ros.core.frames import Frame, FrameFormat
from picam_ros.core.latest_mailbox import LatestMailbox
from picam_ros.core.pacing import RateMeter
from picam_ros.core.process import find_executable, ManagedProcess, ProcessError, ProcessSpec
from picam_ros.sources.base import (
    FrameSource,
    FrameTimeout,
    SourceError,
    SourceStats,
    SourceStopped,
)

_F_SETPIPE_SZ = 1031  # Linux fcntl: grow a pipe so a whole frame fits (bounded by pipe-max-size)
PIPE_BYTES = 1 << 20
#: Bound on waiting for the reader thread at stop: the thread itself only waits on the child
#: (whose stop is bounded by the process supervisor) and on polls woken by the stop.
_JOIN_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class CaptureConfig(ConfigBase):
    """Geometry and supervision settings every child-process source shares."""

    width: int = config_field(1024, 'frame width in pixels (even)', low=2, high=16384)
    height: int = config_field(1024, 'frame height in pixels (even)', low=2, high=16384)
    fps: float = config_field(25.0, 'frame rate, frames/s', low=0.1, high=1000.0)
    frame_timeout: float = config_field(
        2.0, 'seconds without a complete frame before the child counts as hung and is restarted',
        low=0.05, high=600.0)
    start_timeout: float = config_field(
        10.0, 'seconds allowed for the first frame after a (re)start', low=0.1, high=600.0)
    max_failures: int = config_field(
        5, 'runs in a row that end without a single frame before giving up', low=1, high=1000)
    backoff_initial: float = config_field(
        0.2, 'first restart delay in seconds (doubles per failed run)', low=0.01, high=60.0)
    backoff_max: float = config_field(5.0, 'longest restart delay in seconds', low=0.01,
                                      high=600.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.width % 2 or self.height % 2:
            raise ConfigError('width' if self.width % 2 else 'height',
                              f'width and height must be even (4:2:0 chroma), got '
                              f'{self.width}x{self.height}')
        if self.backoff_max < self.backoff_initial:
            raise ConfigError('backoff_max', f'{self.backoff_max:g} must be >= backoff_initial '
                                             f'({self.backoff_initial:g})')


class _FrameExchange(LatestMailbox[Frame]):
    """The reader thread's latest-frame mailbox, counting frames and speaking source errors."""

    def __init__(self, fmt: FrameFormat) -> None:
        super().__init__([Frame(fmt) for _ in range(3)])
        self.close()   # until the source starts
        self.frames = 0
        self.delivered = 0
        self.meter = RateMeter()

    @property
    def drops(self) -> int:
        return self.replaced

    def publish(self, slot: int) -> bool:
        frame = self.pool[slot]
        frame.sequence = self.frames
        self.frames += 1
        self.meter.add(frame.mono_ns)
        return super().publish(slot)

    def take(self, timeout: float | None) -> Frame:
        frame = super().take(timeout)
        if frame is None:
            if self.error is not None:
                raise SourceError(self.error)
            if self.closed:
                raise SourceStopped('source is not running')
            raise FrameTimeout(f'no frame within {timeout:g} s')
        self.delivered += 1
        return frame


#: Mean |Y[r + 1, c] - Y[r, c]| above which a frame is not taken for an image: neighbouring
#: rows of a camera image are alike (a sharp, busy scene stays far below), uniform random bytes
#: differ by 85 on average, and a wrong frame size or row stride shears rows apart.
MAX_ROW_ROUGHNESS = 48


def row_roughness(data: np.ndarray, fmt: FrameFormat) -> float:
    """Return the mean absolute difference of vertically neighbouring luma bytes of a frame."""
    luma = data[:fmt.luma_bytes].reshape(fmt.height, fmt.row_stride)[:, :fmt.width]
    return float(np.abs(np.diff(luma.astype(np.int16), axis=0)).mean())


class RunEnded(Exception):
    """One run of the child ended: its output closed (``eof``) or stalled; says why."""

    def __init__(self, reason: str, *, eof: bool, produced: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.eof = eof
        self.produced = produced


class SizeMismatch(Exception):
    """The child writes frames of another size than the configured format (fatal)."""


class ProcessSource(FrameSource):
    """A child process writing raw frames of ``format`` to stdout, read by a worker thread."""

    kind: ClassVar[str] = 'process'

    def __init__(self, config: CaptureConfig, fmt: FrameFormat, argv: list[str],
                 logger: logging.Logger | None = None) -> None:
        self.config = config
        self.format = fmt
        self.argv = argv
        self.logger = logger or logging.getLogger(f'picam_ros.sources.{self.kind}')
        self._exchange = _FrameExchange(fmt)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._process: Any = None
        self._stopping = threading.Event()
        self._gave_up = threading.Event()
        self._wake_r = self._wake_w = -1
        self._restarts = 0
        self._last_error: str | None = None
        self._last_error_ns = 0

    # -- public API ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the child and the reader thread (after a failure, start afresh)."""
        with self._lock:
            if self._thread is not None:
                if not self._gave_up.is_set():
                    return
                self._shutdown()  # the reader gave up (SourceError): clean up, then retry
            self._check_startable()
            binary = self.argv[0]
            spec = ProcessSpec(
                name=os.path.basename(binary), argv=self.argv, stdout_pipe=True,
                backoff_initial=self.config.backoff_initial,
                backoff_max=self.config.backoff_max, stderr_lines=20)
            self._process = ManagedProcess(spec, self.logger)
            self._stopping.clear()
            self._gave_up.clear()
            self._exchange.reopen()
            self._wake_r, self._wake_w = os.pipe()
            self._thread = threading.Thread(target=self._run, name=f'picam-{self.kind}-reader',
                                            daemon=True)
            self._thread.start()

    def read(self, timeout: float | None = None) -> Frame:
        return self._exchange.take(timeout)

    def stop(self) -> None:
        with self._lock:
            if self._thread is not None:
                self._shutdown()

    def _shutdown(self) -> None:
        thread, process = self._thread, self._process
        self._stopping.set()
        self._exchange.close()
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b'x')
        process.stop()  # interrupts a restart backoff or start; stops the child
        thread.join(_JOIN_TIMEOUT_S)
        process.stop()  # the reader may have started a child after the first stop
        if thread.is_alive():
            # Never expected (every wait of the reader is bounded or woken): the stop still
            # returns, and the wake pipe stays open for the thread that may yet read it.
            self.logger.error('%s: reader thread did not end within %.1f s of the stop',
                              self.kind, _JOIN_TIMEOUT_S)
        else:
            os.close(self._wake_r)
            os.close(self._wake_w)
        self._thread = None

    @property
    def stats(self) -> SourceStats:
        ex = self._exchange
        thread = self._thread
        process = self._process
        return SourceStats(frames=ex.frames, delivered=ex.delivered, drops=ex.drops,
                           restarts=self._restarts, fps=ex.meter.fps,
                           last_error=self._last_error,
                           running=(thread is not None and thread.is_alive()
                                    and not self._gave_up.is_set()),
                           restart_delay=getattr(process, 'last_backoff', None) or 0.0,
                           last_error_age=(None if self._last_error is None else
                                           (time.monotonic_ns() - self._last_error_ns) / 1e9))

    @property
    def pid(self) -> int | None:
        """Process id of the current child (for diagnostics and tests)."""
        process = self._process
        return process.pid if process is not None else None

    def _check_startable(self) -> None:
        """Refuse to start what can never work (missing binary); a SourceError says why."""
        binary = self.argv[0]
        if find_executable(binary) is None:
            raise SourceError(f'{self.kind}: cannot start {binary!r}: not found or not '
                              f'executable (is it installed and on PATH?)')

    # -- reader thread -------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        reason: str | None = None
        produced = 0
        hung = False
        while not self._stopping.is_set():
            try:
                if reason is None:
                    self._process.start()
                else:
                    self._restarts += 1
                    # A run that delivered frames restarts after the shortest delay however
                    # often it happens; only runs without a frame back off. A hung child is
                    # killed at once: it would not answer SIGINT or SIGTERM.
                    # The silence that showed a hang already kept the child from being
                    # restarted in a tight loop: it counts towards the delay.
                    waited = self.config.frame_timeout if hung else 0.0
                    if not self._process.restart(reason, productive=produced > 0, hung=hung,
                                                 waited=waited):
                        return  # stopped during the backoff
            except ProcessError as exc:
                reason = str(exc)
                produced = 0
                hung = False
            else:
                try:
                    produced = self._read_run()
                except SizeMismatch as exc:
                    self._fail(str(exc))
                    return
                except RunEnded as exc:
                    produced = exc.produced
                    hung = not exc.eof
                    reason = self._describe(exc)
            if self._stopping.is_set():
                return
            failures = 0 if produced else failures + 1
            self._set_error(reason)
            self.logger.warning('%s: %s', self.kind, reason)
            if failures >= self.config.max_failures:
                self._fail(f'{self.kind}: {failures} runs in a row ended without a frame; '
                           f'giving up. Last error: {reason}')
                return

    def _fail(self, message: str) -> None:
        # Child gone before anyone hears of the failure; the reader thread ends right after.
        self._process.stop()
        self._set_error(message)
        self._gave_up.set()
        # Not logged here: read() raises it, and whoever ends the process says it, once.
        self._exchange.fail(message)

    def _set_error(self, message: str) -> None:
        self._last_error_ns = time.monotonic_ns()
        self._last_error = message

    def _describe(self, ended: RunEnded) -> str:
        process = self._process
        # A child whose output closed is exiting: wait briefly for its status. A hung one is
        # still running; the restart kills it.
        status = process.wait(0.5) if ended.eof else None
        text = ended.reason
        if status is not None:
            text += f'; exit status {status}' if status >= 0 else f'; killed by signal {-status}'
        tail = process.stderr_tail()[-5:]
        if tail:
            text += '; stderr: ' + ' | '.join(tail)
        return text

    def _read_run(self) -> int:
        """Read frames from the current child until its stream breaks; frames produced."""
        try:
            fd = os.dup(self._process.stdout.fileno())  # ours: stop() closes the child's pipe
        except (AttributeError, ValueError, OSError):   # stopped meanwhile: no pipe any more
            return 0
        try:
            with contextlib.suppress(OSError):
                fcntl.fcntl(fd, _F_SETPIPE_SZ, min(PIPE_BYTES, self.format.frame_bytes))
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            poller.register(self._wake_r, select.POLLIN)
            reader = ExactReader(fd, poller, self._wake_r, self._stopping)
            try:
                if getattr(self.config, 'verify_frame_size', False):
                    self._verify_frame_size(reader)
            except RunEnded as exc:
                raise self._wrote_nothing(exc, reader) from None
            produced = 0
            exchange = self._exchange
            timeout = self.config.start_timeout
            while not self._stopping.is_set():
                slot = exchange.free_slot()
                frame = exchange.pool[slot]
                try:
                    if not reader.read_exact(frame.data, timeout):
                        return produced
                except RunEnded as exc:
                    exc.produced = produced
                    raise self._wrote_nothing(exc, reader) from None
                if produced == 0:
                    self._check_first_frame(frame)
                self._stamp(frame)
                exchange.publish(slot)
                produced += 1
                timeout = self.config.frame_timeout
            return produced
        finally:
            os.close(fd)

    def _wrote_nothing(self, ended: RunEnded, reader: ExactReader) -> RunEnded:
        """Say so when the child wrote not a single byte (not 'no complete frame')."""
        if reader.total:
            return ended
        if ended.eof:
            reason = 'wrote nothing at all: its output closed before the first byte'
        else:
            reason = (f'wrote nothing at all within {self.config.start_timeout:g} s of its '
                      f'start')
        return RunEnded(reason, eof=ended.eof, produced=ended.produced)

    def _verify_frame_size(self, reader: ExactReader) -> None:
        """Check the frame size of a fresh child (for sources whose argv cannot guarantee it)."""

    def _check_first_frame(self, frame: Frame) -> None:
        """Refuse a run whose first frame is no image of the format (garbage, a wrong size).

        Every run of every child source is checked, whatever the consumer (the camera node,
        the standalone runner): a program that writes random bytes, or frames of another size
        (rows sheared apart), stops the source with one line instead of being published.
        """
        roughness = row_roughness(frame.data, self.format)
        if roughness > MAX_ROW_ROUGHNESS:
            raise SizeMismatch(
                f'{self.kind}: what {os.path.basename(self.argv[0])} writes does not look like '
                f'{self.format} frames (neighbouring luma rows differ by {roughness:.0f} on '
                f'average; an image stays well under {MAX_ROW_ROUGHNESS}, random bytes give '
                f'about 85): wrong size, or not raw video. Not publishing it.')

    def _stamp(self, frame: Frame) -> None:
        """Stamp a frame just read: its read time (a source with capture times overrides it)."""
        frame.stamp_ns = time.time_ns()
        frame.mono_ns = time.monotonic_ns()


class ExactReader:
    """Exact-size reads from a pipe with a deadline, interruptible through a wake pipe."""

    def __init__(self, fd: int, poller: select.poll, wake_fd: int,
                 stopping: threading.Event) -> None:
        self.fd = fd
        self.poller = poller
        self.wake_fd = wake_fd
        self.stopping = stopping
        self.total = 0   # bytes read so far from this run

    def wait_readable(self, timeout: float) -> bool | None:
        """Wait for data: True when readable (or EOF), False on timeout, None when stopping."""
        events = self.poller.poll(max(0, math.ceil(timeout * 1000)))
        if self.stopping.is_set():
            return None
        return any(fd == self.fd for fd, _ in events)

    def read_some(self, view: memoryview) -> int:
        n = os.readv(self.fd, [view])
        self.total += n
        return n

    def read_exact(self, buffer: np.ndarray, timeout: float) -> bool:
        """Fill ``buffer`` completely; False when stopping. Raises RunEnded on EOF/timeout."""
        view = memoryview(buffer).cast('B')
        size = len(view)
        got = 0
        deadline = time.monotonic() + timeout
        while got < size:
            remaining = deadline - time.monotonic()
            ready = self.wait_readable(remaining) if remaining > 0 else False
            if ready is None:
                return False
            if not ready:
                where = f' ({got} of {size} bytes of a frame read)' if got else ''
                raise RunEnded(f'no complete frame within {timeout:g} s{where}', eof=False)
            n = self.read_some(view[got:])
            if n == 0:
                where = f'mid-frame ({got} of {size} bytes)' if got else 'between frames'
                raise RunEnded(f'output ended {where}', eof=True)
            got += n
        return True
