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

"""Frame sources: rpicam-vid, any ffmpeg input, and the built-in synthetic scene.

Every source yields :class:`~picam_ros.frames.Frame` objects from a small pool of reusable
buffers. Child-process sources (:class:`RpicamSource`, :class:`FfmpegSource`) read the child's
stdout on their own thread with exact-size reads, so the pipe is always drained, the newest frame
is always the one handed out, and frames the consumer was too slow to take are counted as drops.
A short read, EOF, a dead child or a hung one (no complete frame within ``frame_timeout``)
restarts the child with capped backoff; only an unrecoverable fault (binary missing, frames of
the wrong size, ``max_failures`` runs in a row without a single frame) raises
:class:`SourceError`.

Frame lifetime: a frame returned by ``read()`` stays valid until the next ``read()`` or
``stop()`` on the same source. Call ``frame.copy()`` to keep it longer. One thread reads
(the capture thread); ``stop()`` and ``stats`` may be called from any thread.
"""

from __future__ import annotations

import abc
import collections
from collections.abc import Iterator
import contextlib
from dataclasses import dataclass
import fcntl
import logging
import math
import os
import select
import shutil
import threading
import time
from typing import Any, ClassVar, TYPE_CHECKING

import numpy as np

from picam_ros.config import config_field, ConfigBase
from picam_ros.frames import Frame, FrameFormat

if TYPE_CHECKING:
    from picam_ros.synthetic import SyntheticConfig

__all__ = [
    'FfmpegConfig',
    'FfmpegSource',
    'FrameSource',
    'FrameTimeout',
    'RpicamConfig',
    'RpicamSource',
    'SourceConfig',
    'SourceError',
    'SourceStats',
    'SourceStopped',
    'make_source',
]

_F_SETPIPE_SZ = 1031  # Linux fcntl: grow a pipe so a whole frame fits (bounded by pipe-max-size)
_PIPE_BYTES = 1 << 20
_FPS_WINDOW = 50


class SourceError(RuntimeError):
    """The source cannot deliver frames and will not recover by itself."""


class SourceStopped(SourceError):
    """``read()`` on a source that is not running (never started, or stopped meanwhile)."""


class FrameTimeout(TimeoutError):
    """No frame arrived within the ``read()`` timeout; the source keeps running."""


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
            raise ValueError(f'{type(self).__name__}: width and height must be even (4:2:0 '
                             f'chroma), got {self.width}x{self.height}')
        if self.backoff_max < self.backoff_initial:
            raise ValueError(f'{type(self).__name__}: backoff_max ({self.backoff_max}) must be '
                             f'>= backoff_initial ({self.backoff_initial})')


def align_up(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


@dataclass(frozen=True)
class RpicamConfig(CaptureConfig):
    """``rpicam-vid`` writing raw I420 to stdout.

    ``stride`` 0 means the Pi ISP's rule: luma rows padded to a multiple of 64 bytes (Y stride
    alignment of the bcm2835 ISP, raspberrypi/linux #4419; rpicam-apps #188 780 -> 832, #151
    4056 -> 4096). The size actually written is measured at every start and a mismatch stops
    the source with the stride the camera really uses.
    """

    camera: int = config_field(0, 'camera index (rpicam-vid --camera)', low=0, high=15)
    stride: int = config_field(0, 'luma row stride in bytes; 0 = width rounded up to 64',
                               low=0, high=65536)
    extra_args: tuple[str, ...] = config_field(
        (), 'extra rpicam-vid arguments, e.g. --vflip --shutter 10000 --gain 2')
    binary: str = config_field('rpicam-vid', 'rpicam-vid executable (name on PATH or a path)')
    verify_frame_size: bool = config_field(
        True, 'measure the bytes per frame after each start and refuse a mismatch')

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.stride and (self.stride < self.width or self.stride % 2):
            raise ValueError(f'RpicamConfig.stride must be 0 (auto) or an even value >= width '
                             f'({self.width}), got {self.stride}')
        for arg in ('-o', '--output', '--codec', '--width', '--height', '--camera'):
            if arg in self.extra_args:
                raise ValueError(f'RpicamConfig.extra_args must not set {arg}: the source '
                                 f'manages it')

    @property
    def row_stride(self) -> int:
        return self.stride or align_up(self.width, 64)

    @property
    def frame_format(self) -> FrameFormat:
        return FrameFormat(self.width, self.height, 'i420', self.row_stride)

    def argv(self) -> list[str]:
        fps = f'{self.fps:g}'
        return [self.binary, '--flush', '-t', '0', '--camera', str(self.camera), '--nopreview',
                '--codec', 'yuv420', '--framerate', fps, '--width', str(self.width),
                '--height', str(self.height), '--inline', *self.extra_args, '-o', '-']


@dataclass(frozen=True)
class FfmpegConfig(CaptureConfig):
    """Any input ffmpeg can open, decoded and scaled to yuv420p WxH at ``fps`` on a pipe.

    ``input`` is a file, a V4L2 device (``/dev/video0``), an RTSP/HTTP URL, or a lavfi graph
    (``lavfi:testsrc2=size=640x480:rate=25``). Files loop forever when ``loop`` and are read at
    their native rate when ``realtime`` (``-re``); lavfi graphs are paced by ``realtime`` too.
    """

    input: str = config_field('lavfi:testsrc2=size=1024x1024:rate=25',
                              'file, /dev/videoN, rtsp://... URL, or lavfi:<graph>')
    input_args: tuple[str, ...] = config_field(
        (), 'ffmpeg options placed before -i, e.g. -f v4l2 -input_format mjpeg')
    loop: bool = config_field(True, 'loop a file input forever (-stream_loop -1)')
    realtime: bool = config_field(True, 'read files and lavfi graphs at their native rate (-re)')
    binary: str = config_field('ffmpeg', 'ffmpeg executable (name on PATH or a path)')

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.input.strip():
            raise ValueError('FfmpegConfig.input must not be empty')

    @property
    def input_kind(self) -> str:
        text = self.input
        if text.startswith('lavfi:'):
            return 'lavfi'
        if text.startswith('/dev/video'):
            return 'device'
        if '://' in text and not text.startswith('file://'):
            return 'url'
        return 'file'

    @property
    def frame_format(self) -> FrameFormat:
        return FrameFormat(self.width, self.height, 'i420')

    def argv(self) -> list[str]:
        kind = self.input_kind
        args = [self.binary, '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error']
        if kind == 'lavfi':
            args += ['-f', 'lavfi']
        elif kind == 'device' and '-f' not in self.input_args:
            args += ['-f', 'v4l2']
        elif kind == 'url' and self.input.startswith('rtsp'):
            args += ['-rtsp_transport', 'tcp']
        if kind == 'file' and self.loop:
            args += ['-stream_loop', '-1']
        if kind in ('file', 'lavfi') and self.realtime:
            args += ['-re']
        args += [*self.input_args]
        args += ['-i', self.input[len('lavfi:'):] if kind == 'lavfi' else self.input]
        args += ['-an', '-sn', '-dn',
                 '-vf', f'fps={self.fps:g},scale={self.width}:{self.height},format=yuv420p',
                 '-f', 'rawvideo', '-pix_fmt', 'yuv420p', 'pipe:1']
        return args


SOURCE_KINDS = ('synthetic', 'rpicam', 'ffmpeg')


@dataclass(frozen=True)
class SourceConfig(ConfigBase):
    """Flat view over all source settings, for ROS parameters and CLI flags.

    One table (with ``config_field`` metadata) that the camera node and the CLI declare as
    parameters/flags; :meth:`specific` turns it into the config of the chosen source.
    """

    source: str = config_field('synthetic', 'frame source', choices=SOURCE_KINDS)
    width: int = config_field(1024, 'frame width in pixels (even)', low=2, high=16384)
    height: int = config_field(1024, 'frame height in pixels (even)', low=2, high=16384)
    fps: float = config_field(25.0, 'frame rate, frames/s', low=0.1, high=1000.0)
    camera: int = config_field(0, 'rpicam: camera index', low=0, high=15)
    stride: int = config_field(0, 'rpicam: luma row stride in bytes; 0 = width rounded up '
                                  'to 64', low=0, high=65536)
    extra_args: str = config_field('', 'rpicam: extra rpicam-vid arguments (shell syntax), '
                                       'e.g. "--vflip --shutter 10000"')
    input: str = config_field('', 'ffmpeg: file, /dev/videoN, rtsp:// URL or lavfi:<graph>')
    input_args: str = config_field('', 'ffmpeg: options before -i (shell syntax)')
    loop: bool = config_field(True, 'ffmpeg: loop a file input forever')
    realtime: bool = config_field(True, 'ffmpeg: read files/lavfi at their native rate')
    seed: int = config_field(0, 'synthetic: scene seed', low=0, high=2**31 - 1)
    paced: bool = config_field(
        True, 'synthetic: deliver frames at fps (false: as fast as they are read)')
    drift_x: float = config_field(1.5, 'synthetic: scene motion, px/frame', low=-64.0, high=64.0)
    drift_y: float = config_field(0.75, 'synthetic: scene motion, px/frame', low=-64.0,
                                  high=64.0)
    frame_timeout: float = config_field(2.0, 'seconds without a frame before the child is '
                                             'restarted', low=0.05, high=600.0)
    start_timeout: float = config_field(10.0, 'seconds allowed for the first frame after a '
                                              'start', low=0.1, high=600.0)
    max_failures: int = config_field(5, 'runs in a row without a frame before giving up',
                                     low=1, high=1000)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.specific()  # validates the combination (e.g. odd sizes, empty ffmpeg input)

    def specific(self) -> RpicamConfig | FfmpegConfig | SyntheticConfig:
        common = {'width': self.width, 'height': self.height, 'fps': self.fps}
        supervision = {'frame_timeout': self.frame_timeout, 'start_timeout': self.start_timeout,
                       'max_failures': self.max_failures}
        if self.source == 'rpicam':
            return RpicamConfig(camera=self.camera, stride=self.stride,
                                extra_args=self.extra_args, **common, **supervision)
        if self.source == 'ffmpeg':
            if not self.input.strip():
                raise ValueError('SourceConfig.input must name the ffmpeg input when '
                                 "source is 'ffmpeg'")
            return FfmpegConfig(input=self.input, input_args=self.input_args, loop=self.loop,
                                realtime=self.realtime, **common, **supervision)
        from picam_ros.synthetic import SyntheticConfig
        return SyntheticConfig(seed=self.seed, paced=self.paced, drift_x=self.drift_x,
                               drift_y=self.drift_y, **common)


# -- the source interface ----------------------------------------------------------------

@dataclass(frozen=True)
class SourceStats:
    """A snapshot of a source's counters.

    ``frames``: complete frames produced; ``delivered``: returned by ``read()``; ``drops``:
    produced but never delivered (the consumer was slower than the source), i.e. the gaps in
    delivered sequence numbers; ``restarts``: child restarts; ``fps``: recent production rate;
    ``restart_delay``: the backoff before the latest restart (doubles per failed run, capped).
    """

    frames: int = 0
    delivered: int = 0
    drops: int = 0
    restarts: int = 0
    fps: float = 0.0
    last_error: str | None = None
    running: bool = False
    restart_delay: float = 0.0


class FrameSource(abc.ABC):
    """A context-managed producer of frames (see the module docstring for frame lifetime)."""

    format: FrameFormat

    @abc.abstractmethod
    def start(self) -> None:
        """Begin producing frames. Raises :class:`SourceError` when that is impossible."""

    @abc.abstractmethod
    def read(self, timeout: float | None = None) -> Frame:
        """Return the newest frame not yet returned, waiting up to ``timeout`` seconds.

        ``None`` waits until one arrives. Raises :class:`FrameTimeout` when none arrived in
        time, :class:`SourceStopped` when the source is not running and :class:`SourceError`
        when it failed for good.
        """

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop producing and release children and threads. Idempotent."""

    @property
    @abc.abstractmethod
    def stats(self) -> SourceStats:
        """Counters snapshot."""

    def frames(self, timeout: float | None = None) -> Iterator[Frame]:
        """Yield frames until the source stops (each valid until the next one is yielded)."""
        while True:
            try:
                yield self.read(timeout)
            except SourceStopped:
                return

    def __enter__(self) -> FrameSource:  # noqa: PYI034 - typing.Self needs 3.11
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _RateMeter:
    """Frames/s over the last few frames (bounded)."""

    def __init__(self) -> None:
        self._stamps: collections.deque[int] = collections.deque(maxlen=_FPS_WINDOW)

    def add(self, mono_ns: int) -> None:
        self._stamps.append(mono_ns)

    @property
    def fps(self) -> float:
        if len(self._stamps) < 2:
            return 0.0
        span = self._stamps[-1] - self._stamps[0]
        return (len(self._stamps) - 1) * 1e9 / span if span > 0 else 0.0


class _FrameExchange:
    """Latest-frame mailbox over a pool of three frames, for one producer and one consumer.

    At any time one frame may be held by the consumer (until its next ``take``), one may wait
    as the newest unread frame, and the producer fills the third. Publishing over an unread
    frame drops the older one, so the producer never blocks on a slow consumer.
    """

    def __init__(self, fmt: FrameFormat) -> None:
        self.pool = [Frame(fmt) for _ in range(3)]
        self._cond = threading.Condition()
        self._held: int | None = None
        self._ready: int | None = None
        self._closed = True   # until the source starts
        self._error: str | None = None
        self.frames = 0
        self.delivered = 0
        self.drops = 0
        self.meter = _RateMeter()

    def free_slot(self) -> int:
        with self._cond:
            return next(i for i in range(3) if i != self._held and i != self._ready)

    def publish(self, slot: int) -> None:
        with self._cond:
            frame = self.pool[slot]
            frame.sequence = self.frames
            self.frames += 1
            self.meter.add(frame.mono_ns)
            if self._ready is not None:
                self.drops += 1
            self._ready = slot
            self._cond.notify_all()

    def take(self, timeout: float | None) -> Frame:
        with self._cond:
            self._held = None
            if not self._cond.wait_for(
                    lambda: self._ready is not None or self._closed or self._error is not None,
                    timeout):
                raise FrameTimeout(f'no frame within {timeout:g} s')
            if self._ready is None:
                if self._error is not None:
                    raise SourceError(self._error)
                raise SourceStopped('source is not running')
            self._held, self._ready = self._ready, None
            self.delivered += 1
            return self.pool[self._held]

    def fail(self, message: str) -> None:
        with self._cond:
            self._error = message
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._ready = None
            self._cond.notify_all()

    def reopen(self) -> None:
        with self._cond:
            self._closed = False
            self._error = None
            self._held = self._ready = None


class _RunEnded(Exception):
    """One run of the child ended: its output closed (``eof``) or stalled; says why."""

    def __init__(self, reason: str, *, eof: bool, produced: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.eof = eof
        self.produced = produced


class _SizeMismatch(Exception):
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

    # -- public API ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the child and the reader thread (after a failure, start afresh)."""
        from picam_ros.process import ManagedProcess, ProcessSpec

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
        process.stop()  # interrupts a restart backoff or start; kills the child
        thread.join()
        process.stop()  # the reader may have started a child after the first stop
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
                           restart_delay=getattr(process, 'last_backoff', None) or 0.0)

    @property
    def pid(self) -> int | None:
        """Process id of the current child (for diagnostics and tests)."""
        process = self._process
        return process.pid if process is not None else None

    def _check_startable(self) -> None:
        """Refuse to start what can never work (missing binary); a SourceError says why."""
        binary = self.argv[0]
        found = shutil.which(binary) if os.sep not in binary else binary
        if found is None or not os.path.isfile(found) or not os.access(found, os.X_OK):
            raise SourceError(f'{self.kind}: cannot start {binary!r}: not found or not '
                              f'executable (is it installed and on PATH?)')

    # -- reader thread -------------------------------------------------------------------

    def _run(self) -> None:
        from picam_ros.process import ProcessError

        failures = 0
        reason: str | None = None
        while not self._stopping.is_set():
            try:
                if reason is None:
                    self._process.start()
                else:
                    self._restarts += 1
                    if not self._process.restart(reason):
                        return  # stopped during the backoff
            except ProcessError as exc:
                reason = str(exc)
                produced = 0
            else:
                try:
                    produced = self._read_run()
                except _SizeMismatch as exc:
                    self._fail(str(exc))
                    return
                except _RunEnded as exc:
                    produced = exc.produced
                    reason = self._describe(exc)
            if self._stopping.is_set():
                return
            failures = 0 if produced else failures + 1
            self._last_error = reason
            self.logger.warning('%s: %s', self.kind, reason)
            if failures >= self.config.max_failures:
                self._fail(f'{self.kind}: {failures} runs in a row ended without a frame; '
                           f'giving up. Last error: {reason}')
                return

    def _fail(self, message: str) -> None:
        # Child gone before anyone hears of the failure; the reader thread ends right after.
        self._process.stop()
        self._last_error = message
        self._gave_up.set()
        self.logger.error('%s', message)
        self._exchange.fail(message)

    def _describe(self, ended: _RunEnded) -> str:
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
        stdout = self._process.stdout
        fd = os.dup(stdout.fileno())  # our own descriptor: stop() may close the child's pipe
        try:
            with contextlib.suppress(OSError):
                fcntl.fcntl(fd, _F_SETPIPE_SZ, min(_PIPE_BYTES, self.format.frame_bytes))
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            poller.register(self._wake_r, select.POLLIN)
            reader = _ExactReader(fd, poller, self._wake_r, self._stopping)
            if getattr(self.config, 'verify_frame_size', False):
                self._verify_frame_size(reader)
            produced = 0
            exchange = self._exchange
            timeout = self.config.start_timeout
            while not self._stopping.is_set():
                slot = exchange.free_slot()
                frame = exchange.pool[slot]
                try:
                    if not reader.read_exact(frame.data, timeout):
                        return produced
                except _RunEnded as exc:
                    exc.produced = produced
                    raise
                frame.stamp_ns = time.time_ns()
                frame.mono_ns = time.monotonic_ns()
                exchange.publish(slot)
                produced += 1
                timeout = self.config.frame_timeout
            return produced
        finally:
            os.close(fd)

    def _verify_frame_size(self, reader: _ExactReader) -> None:
        """Check the frame size of a fresh child (for sources whose argv cannot guarantee it)."""


class _ExactReader:
    """Exact-size reads from a pipe with a deadline, interruptible through a wake pipe."""

    def __init__(self, fd: int, poller: select.poll, wake_fd: int,
                 stopping: threading.Event) -> None:
        self.fd = fd
        self.poller = poller
        self.wake_fd = wake_fd
        self.stopping = stopping

    def wait_readable(self, timeout: float) -> bool | None:
        """Wait for data: True when readable (or EOF), False on timeout, None when stopping."""
        events = self.poller.poll(max(0, math.ceil(timeout * 1000)))
        if self.stopping.is_set():
            return None
        return any(fd == self.fd for fd, _ in events)

    def read_some(self, view: memoryview) -> int:
        return os.readv(self.fd, [view])

    def read_exact(self, buffer: np.ndarray, timeout: float) -> bool:
        """Fill ``buffer`` completely; False when stopping. Raises _RunEnded on EOF/timeout."""
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
                raise _RunEnded(f'no complete frame within {timeout:g} s{where}', eof=False)
            n = self.read_some(view[got:])
            if n == 0:
                where = f'mid-frame ({got} of {size} bytes)' if got else 'between frames'
                raise _RunEnded(f'output ended {where}', eof=True)
            got += n
        return True


def _implied_stride(frame_bytes: int, width: int, height: int) -> int | None:
    """Return the even row stride >= width giving i420 frames of ``frame_bytes`` bytes."""
    if height % 2:
        return None
    rows = height * 3 // 2
    if frame_bytes % rows:
        return None
    stride = frame_bytes // rows
    return stride if stride >= width and stride % 2 == 0 else None


class RpicamSource(ProcessSource):
    """Raspberry Pi camera through ``rpicam-vid --codec yuv420`` (see :class:`RpicamConfig`).

    At every start the first frames are used to measure how many bytes the camera writes per
    frame: frames arrive in bursts separated by idle time, and the burst length is the frame
    size. A size other than the configured format's (e.g. an unexpected row stride) stops the
    source with a :class:`SourceError` naming the stride it really uses, instead of publishing
    sheared images. Those measuring frames are not delivered.
    """

    kind = 'rpicam'
    _AGREEING_BURSTS = 2
    _MAX_BURSTS = 6

    def __init__(self, config: RpicamConfig | None = None,
                 logger: logging.Logger | None = None) -> None:
        config = config or RpicamConfig()
        super().__init__(config, config.frame_format, config.argv(), logger)

    def _verify_frame_size(self, reader: _ExactReader) -> None:
        cfg = self.config
        expected = self.format.frame_bytes
        # Idle time that separates two frames: a quarter of the frame period, >= 4 ms.
        gap = max(0.004, 0.25 / cfg.fps)
        scratch = memoryview(bytearray(_PIPE_BYTES))
        bursts: list[int] = []
        count = 0
        consumed = 0
        deadline = time.monotonic() + cfg.start_timeout
        while len(bursts) < self._MAX_BURSTS:
            if count == 0:
                remaining = deadline - time.monotonic()
                ready = reader.wait_readable(remaining) if remaining > 0 else False
                if not ready:
                    if ready is None:
                        return
                    raise _RunEnded(f'no data within {cfg.start_timeout:g} s of the start',
                                    eof=False)
            else:
                ready = reader.wait_readable(gap)
                if ready is None:
                    return
                if not ready:
                    bursts.append(count)
                    count = 0
                    agreeing = [b for b in bursts if b == bursts[-1]]
                    if len(agreeing) >= self._AGREEING_BURSTS:
                        break
                    continue
            n = reader.read_some(scratch)
            if n == 0:
                raise _RunEnded('output ended during the frame size check', eof=True)
            count += n
            consumed += n
            if count > 8 * expected:  # no idle gaps at all: the size cannot be measured
                break
        if count == 0 and bursts and bursts.count(bursts[-1]) >= self._AGREEING_BURSTS:
            # Several frames may arrive back to back (a busy reader); a frame size that does
            # not divide the burst is what gives a wrong stride away.
            if bursts[-1] % expected:
                raise _SizeMismatch(self._mismatch_message(bursts[-1]))
            return
        # Unmeasurable (no idle time between frames, or bursts that never agree): trust the
        # configured size and realign to it.
        self.logger.warning('rpicam: could not measure the frame size (bursts %s); assuming '
                            '%d bytes per frame', bursts, expected)
        leftover = (expected - consumed % expected) % expected
        if leftover:
            reader.read_exact(np.empty(leftover, np.uint8), cfg.frame_timeout)

    def _mismatch_message(self, measured: int) -> str:
        cfg = self.config
        fmt = self.format
        text = (f'rpicam: the camera writes {measured}-byte frames, but {fmt} is '
                f'{fmt.frame_bytes} bytes.')
        tail = self._process.stderr_tail()[-5:]
        adjusted = any('adjusted' in line for line in tail)
        stride = _implied_stride(measured, cfg.width, cfg.height)
        if stride is not None and not adjusted:
            text += (f' Its rows are {stride} bytes apart: set stride={stride}, or use a width '
                     f'that is a multiple of 64.')
        else:
            text += (' The camera changed the requested size ("Stream configuration adjusted");'
                     ' pick a width and height the sensor mode supports.' if adjusted else
                     ' Pick a width and height the sensor mode supports.')
        if tail:
            text += ' rpicam-vid said: ' + ' | '.join(tail)
        return text


class FfmpegSource(ProcessSource):
    """Frames from any ffmpeg input (see :class:`FfmpegConfig`)."""

    kind = 'ffmpeg'

    def __init__(self, config: FfmpegConfig | None = None,
                 logger: logging.Logger | None = None) -> None:
        config = config or FfmpegConfig()
        super().__init__(config, config.frame_format, config.argv(), logger)

    def _check_startable(self) -> None:
        super()._check_startable()
        cfg = self.config
        if cfg.input_kind in ('file', 'device'):
            path = cfg.input.removeprefix('file://')
            if not os.path.exists(path):
                raise SourceError(f'ffmpeg: input {cfg.input!r} does not exist')


def make_source(config: SourceConfig | RpicamConfig | FfmpegConfig | SyntheticConfig,
                logger: logging.Logger | None = None) -> FrameSource:
    """Build the source a config describes (a flat :class:`SourceConfig` or a specific one)."""
    from picam_ros.synthetic import SyntheticConfig, SyntheticSource

    if isinstance(config, SourceConfig):
        config = config.specific()
    if isinstance(config, RpicamConfig):
        return RpicamSource(config, logger)
    if isinstance(config, FfmpegConfig):
        return FfmpegSource(config, logger)
    if isinstance(config, SyntheticConfig):
        return SyntheticSource(config)
    raise TypeError(f'make_source: unsupported config {type(config).__name__}')


def __getattr__(name: str) -> Any:
    # SyntheticSource lives in picam_ros.synthetic (which builds on this module); re-exported
    # lazily so both import orders work.
    if name in ('SyntheticSource', 'SyntheticConfig'):
        from picam_ros import synthetic
        return getattr(synthetic, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
