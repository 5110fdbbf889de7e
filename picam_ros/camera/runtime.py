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

"""The capture loop shared by the camera node and the standalone runner, without ROS.

A :class:`CameraRuntime` owns a frame source and, optionally, a live stream (a
``StreamPublisher`` plus the ``MediaServer`` it publishes to). One capture thread reads frames
and hands each one, on that thread, to the registered sinks (the ROS node registers one that
publishes) and to the stream, whose ``submit`` never blocks. Nothing here waits on ROS or on the
stream: the stream is brought up on a helper thread while frames already flow, and a missing
media server costs the stream, not the camera.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import enum
import threading
import time
from typing import Any, Protocol

from picam_ros.core.frames import Frame, FrameFormat
from picam_ros.core.pacing import RateMeter
from picam_ros.sources.base import SourceError

FrameSink = Callable[[Frame], None]


class Log(Protocol):
    """What the runtime needs from a logger: ``logging.Logger`` and rclpy's logger both fit."""

    def info(self, message: str) -> Any: ...
    def warning(self, message: str) -> Any: ...
    def error(self, message: str) -> Any: ...


class Source(Protocol):
    format: FrameFormat

    def start(self) -> None: ...
    def read(self, timeout: float | None = None) -> Frame: ...
    def stop(self) -> None: ...


class Stream(Protocol):
    def start(self) -> None: ...
    def submit(self, frame: Frame) -> bool: ...
    def stop(self) -> None: ...


class Server(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


class StreamState(str, enum.Enum):
    DISABLED = 'disabled'         # no stream configured
    STARTING = 'starting'         # media server / encoder coming up; frames are not sent yet
    RUNNING = 'running'           # frames are submitted to the encoder
    UNAVAILABLE = 'unavailable'   # the media server binary is missing: camera runs without stream
    FAILED = 'failed'             # the stream could not be started (see stream_error)
    STOPPED = 'stopped'


class _NullLog:
    def info(self, message: str) -> None:
        pass

    warning = error = info


@dataclass(frozen=True)
class RuntimeConfig:
    """Capture-loop settings.

    ``read_timeout`` bounds one ``read()`` so a stop request is noticed even if the source
    hangs (the source itself restarts a hung child); ``fps_window`` is the span the frame
    rate is averaged over; ``join_timeout`` bounds the wait for each thread at stop.
    """

    read_timeout: float = 1.0
    fps_window: float = 2.0
    join_timeout: float = 0.5

    def __post_init__(self) -> None:
        if not self.read_timeout > 0:
            raise ValueError(f'read_timeout must be > 0 s, got {self.read_timeout}')
        if not self.fps_window > 0:
            raise ValueError(f'fps_window must be > 0 s, got {self.fps_window}')
        if not self.join_timeout > 0:
            raise ValueError(f'join_timeout must be > 0 s, got {self.join_timeout}')


@dataclass(frozen=True)
class RuntimeStats:
    """A consistent snapshot for diagnostics and status lines."""

    running: bool
    frames: int                     # frames read from the source by this runtime
    fps: float                      # over the last fps_window seconds
    drops: int                      # frames the source skipped (gaps in sequence numbers)
    source_restarts: int
    source_error: str | None        # the source's last (recovered) error
    capture_error: str | None       # why capture stopped for good, if it did
    last_frame_age: float | None    # seconds since the last frame arrived
    sink_errors: int
    stream_state: StreamState
    stream_error: str | None
    server_ready: bool | None       # None: no media server managed here (none, or external)
    server_restarts: int = 0
    stream_sent: int = 0
    stream_dropped: int = 0
    stream_restarts: int = 0
    stream_connected: bool = False
    source_error_age: float | None = None   # seconds since source_error happened


def reported_by_owner(_message: str) -> None:
    """``on_capture_error`` for an owner that reports ``stats().capture_error`` itself.

    A node polls the stats and ends with a fatal line naming the error: the runtime's own log
    line would say the same thing a second time.
    """


class CameraRuntime:
    """Capture thread + fan-out to sinks and the live stream, with clean start/stop.

    ``source`` must not be started yet; ``stream`` (and ``server``, which must be ready before
    the stream connects) are optional. ``stream_unavailable`` is the exception type meaning
    "the media server binary is missing": reported once, and the camera keeps running.
    Sinks run on the capture thread and must be quick; an exception in one is counted and
    logged, and never stops capture.
    """

    def __init__(self, source: Source, *, stream: Stream | None = None,
                 server: Server | None = None, config: RuntimeConfig | None = None,
                 log: Log | None = None,
                 stream_unavailable: type[BaseException] | None = None,
                 on_capture_error: Callable[[str], None] | None = None) -> None:
        if server is not None and stream is None:
            raise ValueError('a media server without a stream publisher has nothing to serve')
        self._source = source
        self._stream = stream
        self._server = server
        self._config = config or RuntimeConfig()
        self._log: Log = log or _NullLog()
        self._unavailable = stream_unavailable
        self._on_capture_error = on_capture_error

        self._sinks: tuple[tuple[str, FrameSink], ...] = ()
        self._sinks_lock = threading.Lock()
        self._stop = threading.Event()
        self._lifecycle = threading.Lock()
        self._capture_thread: threading.Thread | None = None
        self._stream_thread: threading.Thread | None = None
        self._stream_live: Stream | None = None   # set once the stream accepts frames
        self._server_started = False
        self._stream_started = False

        self._stats_lock = threading.Lock()
        window = max(16, int(self._config.fps_window * 240))   # bounded: ~240 fps max
        self._arrivals = RateMeter(window, self._config.fps_window)
        self._frames = 0
        self._drops = 0
        self._last_sequence: int | None = None
        self._sink_errors = 0
        self._capture_error: str | None = None
        self._stream_state = StreamState.DISABLED if stream is None else StreamState.STOPPED
        self._stream_error: str | None = None
        self._running = False

    # -- sinks -------------------------------------------------------------------------
    def add_sink(self, sink: FrameSink, name: str | None = None) -> None:
        """Register a callable invoked with every frame, on the capture thread."""
        with self._sinks_lock:
            self._sinks = (*self._sinks, (name or getattr(sink, '__name__', 'sink'), sink))

    def remove_sink(self, sink: FrameSink) -> None:
        with self._sinks_lock:
            self._sinks = tuple(entry for entry in self._sinks if entry[1] is not sink)

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def format(self) -> FrameFormat:
        return self._source.format

    @property
    def source(self) -> Source:
        return self._source

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> None:
        """Start the source (errors propagate), then capture, then the stream in background."""
        with self._lifecycle:
            if self._running:
                return
            self._stop.clear()
            self._capture_error = self._stream_error = None
            with self._stats_lock:
                self._last_sequence = None   # a restarted source counts from zero again
            self._source.start()
            self._running = True
            self._capture_thread = threading.Thread(
                target=self._capture_loop, name='picam-capture', daemon=True)
            self._capture_thread.start()
            if self._stream is not None:
                self._stream_state = StreamState.STARTING
                self._stream_thread = threading.Thread(
                    target=self._start_stream, name='picam-stream-start', daemon=True)
                self._stream_thread.start()

    def stop(self) -> None:
        """Stop capture, stream and server; idempotent, and every wait in it is bounded.

        Returns when the children are stopped and the threads ended, or (a sink or start that
        does not return) after ``join_timeout`` per thread, which is then logged.
        """
        with self._lifecycle:
            self._stop.set()
            # Stopping the source ends a blocked read, so the capture thread can exit; stopping
            # the server first aborts a start that is still waiting for it to become ready.
            self._source.stop()
            if self._server is not None:
                self._server.stop()
            for thread in (self._capture_thread, self._stream_thread):
                if thread is not None and thread is not threading.current_thread():
                    thread.join(self._config.join_timeout)
                    if thread.is_alive():
                        # A sink or start still busy (it sees the stop flag when it returns):
                        # the stop goes on, and the thread, a daemon, cannot hold up the exit.
                        self._log.error(f'{thread.name} thread still busy '
                                        f'{self._config.join_timeout:g} s after the stop; '
                                        f'not waiting for it')
            self._capture_thread = self._stream_thread = None
            self._stream_live = None
            try:
                if self._stream is not None and self._stream_started:
                    self._stream.stop()
            finally:
                self._stream_started = False
                if self._server is not None:
                    self._server.stop()   # again: a start may have completed meanwhile
                self._server_started = False
            if self._stream is not None:
                self._stream_state = StreamState.STOPPED
            self._running = False

    def __enter__(self) -> CameraRuntime:  # noqa: PYI034 - typing.Self needs Python 3.11
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- threads -------------------------------------------------------------------------
    def _start_stream(self) -> None:
        assert self._stream is not None
        try:
            if self._server is not None and not self._stop.is_set():
                self._server_started = True
                self._server.start()
            if self._stop.is_set():
                return
            self._stream_started = True
            self._stream.start()
        except Exception as exc:  # noqa: BLE001 - any failure leaves the camera running
            if self._stop.is_set():
                return   # the stop broke the start (MediaMTX stopped while it came up): no fault
            unavailable = self._unavailable is not None and isinstance(exc, self._unavailable)
            self._stream_state = StreamState.UNAVAILABLE if unavailable else StreamState.FAILED
            self._stream_error = str(exc) or type(exc).__name__
            self._log.error(f'live stream disabled, the camera keeps publishing: '
                            f'{self._stream_error}')
            return
        if not self._stop.is_set():
            # RUNNING before the capture thread can see the stream: a first submit that fails
            # sets FAILED, and must not be overwritten by a RUNNING set after it.
            self._stream_state = StreamState.RUNNING
            self._stream_live = self._stream

    def _capture_loop(self) -> None:
        read = self._source.read
        timeout = self._config.read_timeout
        stop = self._stop
        while not stop.is_set():
            try:
                frame = read(timeout)
            except TimeoutError:
                continue   # the source restarts hung children itself; we only re-check stop
            except Exception as exc:  # noqa: BLE001 - reported, never swallowed
                if not stop.is_set():
                    self._capture_failed(exc)
                return
            if stop.is_set():
                return
            self._account(frame)
            # The stream first: its submit is a bounded copy, while a sink (ROS serialisation of
            # a large frame) can take tens of ms that the viewer's latency need not include.
            stream = self._stream_live
            if stream is not None:
                try:
                    stream.submit(frame)
                except Exception as exc:  # noqa: BLE001 - the stream must not stop capture
                    self._stream_failed(exc)
            for name, sink in self._sinks:
                if stop.is_set():
                    return
                try:
                    sink(frame)
                except Exception as exc:  # noqa: BLE001 - one bad sink must not stop capture
                    self._sink_failed(name, exc)

    def _account(self, frame: Frame) -> None:
        with self._stats_lock:
            self._frames += 1
            self._arrivals.add(frame.mono_ns)
            last = self._last_sequence
            # A sequence that does not increase means the source restarted its count.
            if last is not None and frame.sequence > last + 1:
                self._drops += frame.sequence - last - 1
            self._last_sequence = frame.sequence

    def _sink_failed(self, name: str, exc: Exception) -> None:
        with self._stats_lock:
            self._sink_errors += 1
            count = self._sink_errors
        if count == 1 or count % 100 == 0:   # log the first and then every 100th
            self._log.error(f'frame sink {name!r} failed ({count} failures so far): '
                            f'{type(exc).__name__}: {exc}')

    def _stream_failed(self, exc: Exception) -> None:
        self._stream_live = None
        self._stream_state = StreamState.FAILED
        self._stream_error = f'{type(exc).__name__}: {exc}'
        self._log.error(f'live stream stopped, the camera keeps publishing: '
                        f'{self._stream_error}')

    def _capture_failed(self, exc: Exception) -> None:
        # A SourceError's text names its source ('rpicam: ...'); anything else needs its type.
        cause = str(exc) if isinstance(exc, SourceError) else f'{type(exc).__name__}: {exc}'
        message = f'capture stopped: {cause}'
        self._capture_error = message
        # Said once, by the owner that ends the process on it (the runner's error line, a
        # node's fatal line); logged here only when no owner listens.
        if self._on_capture_error is not None:
            self._on_capture_error(message)
        else:
            self._log.error(message)

    # -- status --------------------------------------------------------------------------
    def stats(self) -> RuntimeStats:
        now = time.monotonic_ns()
        with self._stats_lock:
            fps = self._arrivals.rate(now)
            frames, drops, sink_errors = self._frames, self._drops, self._sink_errors
            last = self._arrivals.last
        source_stats = getattr(self._source, 'stats', None)
        stream_stats = getattr(self._stream, 'stats', None)
        server_ready, server_restarts = None, 0
        server = self._server
        # An external server is not ours to watch: probing it would connect to it every call.
        if server is not None and getattr(server, 'state', None) != getattr(server, 'EXTERNAL',
                                                                            None):
            server_ready = bool(self._server_started and getattr(server, 'ready', False))
            server_restarts = getattr(server, 'restarts', 0)
        return RuntimeStats(
            running=self._running and self._capture_error is None,
            frames=frames,
            fps=fps,
            drops=drops,
            source_restarts=getattr(source_stats, 'restarts', 0),
            source_error=getattr(source_stats, 'last_error', None),
            capture_error=self._capture_error,
            last_frame_age=None if last is None else (now - last) / 1e9,
            sink_errors=sink_errors,
            stream_state=self._stream_state,
            stream_error=self._stream_error or getattr(stream_stats, 'last_error', None),
            server_ready=server_ready,
            server_restarts=server_restarts,
            stream_sent=getattr(stream_stats, 'sent', 0),
            stream_dropped=getattr(stream_stats, 'dropped', 0),
            stream_restarts=getattr(stream_stats, 'restarts', 0),
            stream_connected=bool(getattr(stream_stats, 'connected', False)),
            source_error_age=getattr(source_stats, 'last_error_age', None),
        )
