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

"""Live stream encoder: an ffmpeg H.264 encoder publishing over RTSP, fed from a writer thread.

``StreamPublisher`` takes frames from the capture loop without ever blocking it: ``submit``
copies the frame into one of a few preallocated buffers and returns; a writer thread feeds
ffmpeg's stdin. Whenever ffmpeg is ready for a frame the writer gives it the newest one and drops
(and counts) any older ones still waiting: a frame that waited behind another is already late, and
sending it would keep the stream one frame period behind for as long as ffmpeg stays slow (a
standing queue). So the stream shows the newest picture, as the original design did by blocking
the camera, without blocking it. An encoder that exits or whose pipe breaks is restarted with
backoff and resumes at the next frame. The encoder runs with Nagle's algorithm off for its RTSP
connection (:mod:`picam_ros.stream.tcp_nodelay`): with it on, a frame's last packet could
wait 40 ms.

Why the original system failed "every second start" ("Could not write header") and right after
a stop: the next start raced the previous one. Its encoder published while the previous
publisher still held the path, or before the server listened. Here every stop waits until the
encoder is gone (reaped) and the encoder is only started once the server listens (see
:mod:`picam_ros.stream.mediamtx` for the server side).
"""

from __future__ import annotations

import collections
from collections.abc import Callable
import contextlib
from dataclasses import dataclass
import fcntl
import logging
import math
import os
import re
import select
import threading
import time

import numpy as np

from picam_ros.core.config import config_field, ConfigError
from picam_ros.core.formats import FORMATS
from picam_ros.core.frames import Frame, FrameFormat
from picam_ros.core.process import (
    find_executable,
    ManagedProcess,
    ProcessError,
    ProcessSpec,
    ProcessStopped,
    server_probe,
)
from picam_ros.stream.downscale import downscaler, scaled_format, SCALES
from picam_ros.stream.rtsp_link import RestartBackoff, RtspEndpoint
from picam_ros.stream.tcp_nodelay import find_library, preload_env

__all__ = [
    'X264_PRESETS',
    'StreamConfig',
    'StreamError',
    'StreamPublisher',
    'StreamStats',
    'encoder_argv',
]

X264_PRESETS = ('ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow',
                'slower', 'veryslow')
_PATH_RE = re.compile(r'^[A-Za-z0-9_.~-]+(/[A-Za-z0-9_.~-]+)*$')
_SERVER_POLL_S = 0.05
_LATENCY_RING = 512
_PIPE_MIN = 4096
_PIPE_MAX = 1 << 20
_WRITER_FINISH_S = 1.0
_STOP_CHECK_S = 0.25


class StreamError(RuntimeError):
    """The stream cannot run as configured (the message says why and what to change)."""


# -- encoder ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StreamConfig(RtspEndpoint, RestartBackoff):
    """Encoder and publishing settings (validated here; shared by ROS parameters and the CLI).

    Rate control: ``bitrate_kbps`` (capped VBR with a one-second buffer) or ``crf`` (constant
    quality, 0-51, lower is better); neither means x264's default CRF 23.
    """

    path: str = config_field('cam', 'stream path on the server')
    fps: float = config_field(25.0, 'frame rate the encoder assumes', low=1.0, high=240.0)
    # 0.5 s, not 1 s: a browser joining waits for the next key frame (ffmpeg cannot be asked
    # for one when a viewer joins); measured by bench/first_frame.py at 640x480@25 in one run:
    # first frame after WebRTC connected max 414 ms (1 s: 1002 ms) for 1.39x the bytes of the
    # synthetic scene and no more encoder CPU (0.72x).
    gop_seconds: float = config_field(0.5, 'keyframe interval: late viewers start this fast',
                                      low=0.1, high=10.0)
    bitrate_kbps: int | None = config_field(None, 'H.264 bitrate, kbit/s (not set: quality mode)',
                                            low=100, high=100000, kind=int)
    crf: float | None = config_field(None, 'x264 constant quality (not set: 23)', low=0.0,
                                     high=51.0, kind=float)
    preset: str = config_field('ultrafast', 'x264 speed preset', choices=X264_PRESETS)
    ffmpeg_path: str = config_field('ffmpeg', 'ffmpeg binary')
    queue_size: int = config_field(
        2, 'frames that may wait for the encoder (it takes the newest, older ones are dropped)',
        low=1, high=8)
    stall_timeout: float = config_field(
        5.0, 'restart an encoder that accepts no input for this long, seconds', low=0.1,
        high=600.0)
    scale: int = config_field(
        1, 'stream size divisor: 1 full, 2 half, 4 quarter width and height of the capture '
           '(a box filter; topics and centroids keep full size)', choices=SCALES,
        launch='stream_scale')

    def __post_init__(self) -> None:
        super().__post_init__()   # types, ranges and choices from the field metadata
        if not _PATH_RE.match(self.path):
            raise ConfigError('path', f'must be letters, digits, "_.~-" and "/" separators, '
                                      f'got {self.path!r}')
        if self.bitrate_kbps is not None and self.crf is not None:
            raise ConfigError('crf', 'set either bitrate_kbps or crf, not both',
                              mentions=('bitrate_kbps', 'crf'))

    @property
    def url(self) -> str:
        host = f'[{self.host}]' if ':' in self.host else self.host
        return f'rtsp://{host}:{self.rtsp_port}/{self.path}'

    @property
    def gop(self) -> int:
        """Keyframe interval in frames."""
        return max(1, round(self.fps * self.gop_seconds))


#: H.264 levels (Annex A, table A-1): name, max frame size and max rate in 16x16 macroblocks.
_H264_LEVELS = (('3', 1620, 40500), ('3.1', 3600, 108000), ('3.2', 5120, 216000),
                ('4', 8192, 245760), ('4.2', 8704, 522240), ('5', 22080, 589824),
                ('5.1', 36864, 983040), ('5.2', 36864, 2073600), ('6', 139264, 4177920),
                ('6.1', 139264, 8355840), ('6.2', 139264, 16711680))


def h264_level(width: int, height: int, fps: float) -> str:
    """Return the lowest H.264 level that allows this frame size and rate.

    Both dimensions must also stay within sqrt(8 * max frame size) macroblocks (A.3.1). A
    decoder refuses a stream above the level it announces, so the level follows the streamed
    size: 1920x1920 (14,400 macroblocks) needs 5, its half size 3.1.
    """
    mbs_w, mbs_h = -(-width // 16), -(-height // 16)
    frame_mbs = mbs_w * mbs_h
    for name, max_frame, max_rate in _H264_LEVELS:
        side = math.isqrt(8 * max_frame)
        if frame_mbs <= max_frame and mbs_w <= side and mbs_h <= side and \
                frame_mbs * fps <= max_rate:
            return name
    raise StreamError(f'{width}x{height} at {fps:g} fps is beyond every H.264 level: lower the '
                      f'fps or set stream.scale')


def encoder_argv(config: StreamConfig, frame_format: FrameFormat) -> list[str]:
    """Build the ffmpeg command: packed raw frames on stdin -> H.264 published over RTSP.

    ``frame_format`` is what the encoder reads (the streamed size). Baseline profile and no
    B-frames because browsers drop B-frames over WebRTC; ``-tune zerolatency`` removes x264's
    lookahead and frame threading delay; the level is the lowest that fits the streamed size.
    """
    fmt = frame_format
    argv = [config.ffmpeg_path, '-hide_banner', '-nostats', '-loglevel', 'info',
            '-f', 'rawvideo', '-pix_fmt', FORMATS[fmt.layout].ffmpeg_pix_fmt,
            '-s', f'{fmt.width}x{fmt.height}', '-r', f'{config.fps:g}', '-i', 'pipe:0',
            '-an', '-c:v', 'libx264', '-preset', config.preset, '-tune', 'zerolatency',
            '-profile:v', 'baseline', '-level:v', h264_level(fmt.width, fmt.height, config.fps),
            '-bf', '0', '-g', str(config.gop)]
    if not fmt.pixel_format.subsampled:   # baseline has no 4:0:0; players expect 4:2:0
        argv += ['-pix_fmt', FORMATS['i420'].ffmpeg_pix_fmt]
    if config.bitrate_kbps is not None:
        rate = f'{config.bitrate_kbps}k'
        argv += ['-b:v', rate, '-maxrate', rate, '-bufsize', rate]
    elif config.crf is not None:
        argv += ['-crf', f'{config.crf:g}']
    argv += ['-f', 'rtsp', '-rtsp_transport', 'tcp', config.url]
    return argv


@dataclass(frozen=True)
class StreamStats:
    """A snapshot of the publisher's counters.

    ``submitted`` frames were offered; ``sent`` reached ffmpeg's stdin; ``dropped`` were
    discarded (older ones when a newer frame was waiting, oldest-first when the queue was full, or
    the encoder has opened its RTSP session (ffmpeg reported its output) and is running.
    ``write_latency_ms_p50/max``: capture (``frame.mono_ns``) to the last byte written into the
    encoder's stdin, over the recent frames.
    """

    submitted: int = 0
    sent: int = 0
    dropped: int = 0
    restarts: int = 0
    connected: bool = False
    last_error: str | None = None
    queued: int = 0
    write_latency_ms_p50: float | None = None
    write_latency_ms_max: float | None = None


class _Slot:
    """A preallocated frame buffer cycling between free list, queue and writer."""

    __slots__ = ('buf', 'mono_ns', 'sequence')

    def __init__(self, nbytes: int) -> None:
        self.buf = np.empty(nbytes, dtype=np.uint8)
        self.mono_ns = 0
        self.sequence = -1


class _EncoderStalled(Exception):
    pass


class _Stopping(Exception):
    pass


def _write_all(fd: int, buf: np.ndarray, stall_timeout: float,
               stopping: Callable[[], bool]) -> None:
    """Write ``buf`` to the non-blocking ``fd``.

    Raises ``_EncoderStalled`` when the encoder takes no byte for ``stall_timeout`` seconds
    (a hung ffmpeg, or one stuck on a dead TCP connection) and ``_Stopping`` when ``stopping()``
    is true while the encoder takes nothing, so neither a stop nor a hang can hold the writer
    forever.
    """
    view = memoryview(buf)
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    waited = 0.0
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            if waited >= stall_timeout:
                raise _EncoderStalled from None
            step = min(_STOP_CHECK_S, stall_timeout - waited)
            if not poller.poll(step * 1000):
                waited += step
                if stopping():   # only a stuck write is cut short: a moving one completes
                    raise _Stopping from None
            continue
        view = view[written:]
        waited = 0.0


def _pipe_size(frame_bytes: int) -> int:
    """Size of the encoder's stdin pipe: the largest power of two up to half a frame.

    Never a whole frame: a frame that fits into the pipe is committed (written, no longer
    replaceable by a newer one) while ffmpeg is still encoding the previous one, one frame period
    of latency whenever ffmpeg is busy. Half a frame or less keeps the writer at most half a frame
    ahead of ffmpeg's reads, with a few wake-ups per frame (4 KiB: a page, the kernel's minimum).
    """
    size = _PIPE_MIN
    while size * 2 <= min(frame_bytes // 2, _PIPE_MAX):
        size *= 2
    return size


class StreamPublisher:
    """Feed frames to an ffmpeg H.264/RTSP encoder from a writer thread (see module docstring).

    ``submit`` may be called from one capture thread (concurrent callers are serialised);
    ``start``/``stop`` from any thread. ``server_ready`` is polled before each encoder start
    (default: something listens on the RTSP port), so no encoder connects before the server can
    take it.
    """

    def __init__(self, config: StreamConfig, frame_format: FrameFormat,
                 logger: logging.Logger | None = None,
                 server_ready: Callable[[], bool] | None = None) -> None:
        if not isinstance(config, StreamConfig):
            raise TypeError(f'config must be a StreamConfig, got {type(config).__name__}')
        if not isinstance(frame_format, FrameFormat):
            raise TypeError(f'frame_format must be a FrameFormat, got '
                            f'{type(frame_format).__name__}')
        self.config = config
        self.format = frame_format.packed()
        try:
            #: What the encoder reads: the capture divided by ``config.scale``.
            self.stream_format = scaled_format(self.format, config.scale)
        except ValueError as exc:
            raise StreamError(f'stream.scale: {exc}') from None
        self.logger = logger or logging.getLogger('picam_ros.stream.encoder')
        self._server_ready = server_ready or server_probe(config.host, config.rtsp_port)
        self._argv = encoder_argv(config, self.stream_format)
        if config.scale == 1:
            # libx264 reads nv12/nv21 natively: 4:2:0 frames reach the encoder without any
            # colour conversion (only row padding is removed).
            self._pack = getattr(Frame, FORMATS[self.format.layout].pack)
        else:
            self._pack = downscaler(self.format, config.scale)
        # Buffers: queue_size queued + one being written + one being filled by submit().
        self._free = [_Slot(self.stream_format.packed_bytes)
                      for _ in range(config.queue_size + 2)]
        self._queue: collections.deque[_Slot] = collections.deque()
        self._cond = threading.Condition()
        self._submit_lock = threading.Lock()
        self._lifecycle = threading.Lock()
        self._running = False
        self._writer: threading.Thread | None = None
        self._process: ManagedProcess | None = None
        self._submitted = self._sent = self._dropped = 0
        self._connected = False
        self._last_error: str | None = None
        self._latency_ns = np.zeros(_LATENCY_RING, dtype=np.int64)
        self._latency_count = 0

    # -- public API -----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._running

    @property
    def queued(self) -> int:
        """Count the frames waiting for the encoder right now."""
        return len(self._queue)

    @property
    def encoder_pid(self) -> int | None:
        """Return the pid of the running ffmpeg encoder, if any (for diagnostics and tests)."""
        process = self._process
        return process.pid if process is not None and process.is_alive() else None

    @property
    def stats(self) -> StreamStats:
        with self._cond:
            count = min(self._latency_count, _LATENCY_RING)
            recent = self._latency_ns[:count].copy()
            process = self._process
            return StreamStats(
                submitted=self._submitted, sent=self._sent, dropped=self._dropped,
                restarts=process.restarts if process else 0,
                connected=self._connected and process is not None and process.is_alive(),
                last_error=self._last_error, queued=len(self._queue),
                write_latency_ms_p50=float(np.median(recent)) / 1e6 if count else None,
                write_latency_ms_max=float(recent.max()) / 1e6 if count else None,
            )

    def write_latencies_ms(self) -> np.ndarray:
        """Return capture-to-encoder-stdin times of the recent frames (ms, oldest first)."""
        with self._cond:
            count = self._latency_count
            ring = self._latency_ns.copy()
        if count <= _LATENCY_RING:
            return ring[:count] / 1e6
        start = count % _LATENCY_RING
        return np.concatenate([ring[start:], ring[:start]]) / 1e6

    def start(self) -> None:
        """Start the writer thread; the encoder starts as soon as the server listens.

        Returns at once (frames submitted meanwhile replace each other in the queue). Raises
        :class:`StreamError` when ffmpeg cannot be found. Starting twice does nothing.
        """
        with self._lifecycle:
            if self._running:
                return
            exe = self.config.ffmpeg_path
            if find_executable(exe) is None:
                raise StreamError(f'ffmpeg not found ({exe!r}): install ffmpeg or set '
                                  f'ffmpeg_path')
            nodelay = find_library()
            if nodelay is None:
                self.logger.warning('TCP_NODELAY library (picam_ros._tcp_nodelay) not built: '
                                    'the stream may show frames up to 40 ms late '
                                    '(see picam_ros.stream.tcp_nodelay)')
            self._process = ManagedProcess(ProcessSpec(
                name='ffmpeg-encoder', argv=self._argv, stdin_pipe=True, stop_timeout=2.0,
                stdin_eof_grace=1.0,
                env=preload_env(nodelay) or None,  # Nagle off: see picam_ros.stream.tcp_nodelay
                new_session=False,   # our scheduling autogroup: see ProcessSpec.new_session
                backoff_initial=self.config.backoff_initial,
                backoff_max=self.config.backoff_max, stable_after=5.0,
                on_output=self._on_encoder_output),
                logger=self.logger.getChild('encoder'))
            with self._cond:
                self._running = True
                self._connected = False
            self._writer = threading.Thread(target=self._write_loop, args=(self._process,),
                                            name='picam-stream-writer', daemon=True)
            self._writer.start()
            self.logger.info('streaming %s to %s', self.stream_format, self.config.url)

    def stop(self) -> None:
        """Stop the writer and the encoder; returns when both are gone. Idempotent."""
        with self._lifecycle:
            with self._cond:
                self._running = False
                self._cond.notify_all()
            process, writer = self._process, self._writer
            if writer is not None:
                # Let a write in progress finish, so stdin is never closed under the writer...
                writer.join(timeout=_WRITER_FINISH_S)
            if process is not None:
                # ...unless the encoder is stuck: stopping it breaks the write (EPIPE) and
                # interrupts a backoff or readiness wait. Also stops an encoder that started
                # while we were stopping.
                process.stop()
            if writer is not None:
                writer.join()
            with self._cond:
                self._connected = False
                self._free.extend(self._queue)
                self._queue.clear()
            self._writer = None

    def submit(self, frame: Frame) -> bool:
        """Queue a copy of ``frame`` for the encoder; never blocks on the encoder.

        Drops the oldest queued frame when the queue is full. Returns ``False`` (and copies
        nothing) when the publisher is not running. Raises ``ValueError`` for a frame whose
        size or layout differs from the stream's.
        """
        fmt = frame.format
        if (fmt.width, fmt.height, fmt.layout) != (self.format.width, self.format.height,
                                                   self.format.layout):
            raise ValueError(f'stream expects {self.format} frames, got {fmt}')
        if not self._running:
            return False
        with self._submit_lock:
            with self._cond:
                self._submitted += 1
                if len(self._queue) >= self.config.queue_size:
                    slot = self._queue.popleft()
                    self._dropped += 1
                else:
                    slot = self._free.pop()
            self._pack(frame, slot.buf)   # outside the lock: the writer keeps going
            slot.mono_ns, slot.sequence = frame.mono_ns, frame.sequence
            with self._cond:
                if not self._running:
                    self._free.append(slot)
                    return False
                self._queue.append(slot)
                self._cond.notify()
        return True

    def __enter__(self) -> StreamPublisher:  # noqa: PYI034 - typing.Self needs 3.11
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- writer thread ------------------------------------------------------------------------

    def _on_encoder_output(self, line: str) -> None:
        # ffmpeg prints its output description right after the RTSP server accepted the
        # session (avformat_write_header succeeded).
        if line.startswith('Output #0'):
            with self._cond:
                self._connected = True
            self.logger.info('encoder connected to %s', self.config.url)

    def _wait_for_server(self) -> bool:
        """Poll ``server_ready`` until true; False when stopped meanwhile."""
        noted = False
        while True:
            with self._cond:
                if not self._running:
                    return False
            if self._server_ready():
                return True
            if not noted:
                with self._cond:   # a failure that sent us here stays the reported error
                    if self._last_error is None:
                        self._last_error = f'waiting for the RTSP server at {self.config.url}'
                noted = True
            with self._cond:
                self._cond.wait_for(lambda: not self._running, timeout=_SERVER_POLL_S)

    def _note_error(self, message: str) -> None:
        with self._cond:
            self._last_error = message

    def _next_slot(self) -> _Slot | None:
        """Wait for a frame; return the newest, dropping the older ones (see module docstring)."""
        with self._cond:
            self._cond.wait_for(lambda: self._queue or not self._running)
            if not self._running:
                return None
            slot = self._queue.pop()
            self._dropped += len(self._queue)
            self._free.extend(self._queue)
            self._queue.clear()
            return slot

    def _release(self, slot: _Slot, sent: bool) -> None:
        done = time.monotonic_ns()
        with self._cond:
            if sent:
                self._sent += 1
                self._latency_ns[self._latency_count % _LATENCY_RING] = done - slot.mono_ns
                self._latency_count += 1
            else:
                self._dropped += 1
            self._free.append(slot)

    def _bring_up(self, process: ManagedProcess, failure: str | None) -> int | None:
        """Start (first time) or restart the encoder; our own descriptor of its stdin.

        ``None`` when stopped meanwhile. Writing through a duplicate means ``stop()`` closing
        the child's stdin can never make a write land on a recycled descriptor number.
        """
        while True:
            if not self._wait_for_server():
                return None
            with self._cond:
                self._connected = False
            try:
                if failure is None:
                    process.start()
                elif not process.restart(failure):
                    return None
                stdin = process.stdin
                if stdin is None:
                    raise ProcessError('encoder started without a stdin pipe')
                fd = os.dup(stdin.fileno())
            except ProcessStopped:
                return None
            except (ProcessError, OSError, ValueError) as exc:   # ValueError: stdin closed
                failure = str(exc)
                self._note_error(failure)
                continue
            with contextlib.suppress(OSError):   # Linux
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _pipe_size(self.stream_format.packed_bytes))
            os.set_blocking(fd, False)   # see _write_all: waits are bounded and interruptible
            return fd

    def _write_loop(self, process: ManagedProcess) -> None:
        fd = self._bring_up(process, None)
        while fd is not None:
            slot = self._next_slot()
            if slot is None:
                break
            try:
                _write_all(fd, slot.buf, self.config.stall_timeout, lambda: not self._running)
            except _Stopping:
                self._release(slot, sent=False)
                break
            except _EncoderStalled:
                self._release(slot, sent=False)
                os.close(fd)
                fd = None
                process.kill()   # now: it would hold its RTSP session while we wait
                failure = (f'encoder stalled: no input taken for '
                           f'{self.config.stall_timeout:g} s')
            except OSError as exc:   # EPIPE: the encoder is gone
                self._release(slot, sent=False)
                os.close(fd)
                fd = None
                failure = self._encoder_failure(process, f'encoder pipe broke ({exc.strerror})')
            else:
                self._release(slot, sent=True)
                continue
            with self._cond:
                if not self._running:
                    break
            self._note_error(failure)
            fd = self._bring_up(process, failure)
        if fd is not None:
            os.close(fd)

    @staticmethod
    def _encoder_failure(process: ManagedProcess, what: str) -> str:
        process.wait(timeout=1.0)   # let the exit status and last output arrive
        tail = process.stderr_tail()[-3:]
        status = process.returncode
        detail = f'{what}, status {status}' if status is not None else what
        return detail + (': ' + ' | '.join(tail) if tail else '')
