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

"""The centroid pipeline fed straight from capture, on its own thread, without ROS.

:class:`CentroidWorker` is what the camera node runs when ``centroids.enabled`` is set: the
capture thread calls :meth:`CentroidWorker.offer` with every frame, which decides by capture
time whether the frame is due (cheap, nothing copied) and, if so, copies it once into a latest-
frame mailbox. A worker thread takes the newest frame, runs the engine (GIL released) and hands
the results to a callback (the node publishes them). The capture thread never waits for the
engine: when the worker falls behind, the waiting frame is replaced by the newer one and counted.

The copy is needed because sources refill their buffers (a frame is valid until the source's
next ``read()``); it is one bounded memcpy per processed frame, never a serialisation.
"""

from __future__ import annotations

from collections.abc import Callable
import threading

from picam_ros.centroid_pipeline import CentroidPipeline, ProfileResult, WindowStats
from picam_ros.frames import Frame
from picam_ros.pacing import DecimationConfig
from picam_ros.ros_conversions import ImagePlanes

#: Called on the worker thread with the frame, its planes and every profile's result.
ResultSink = Callable[[Frame, ImagePlanes, list[ProfileResult]], None]
JOIN_TIMEOUT_S = 1.0   # the node must end within 2 s of SIGINT, capture stop included


def rate_decimation(rate_hz: float, fps: float) -> DecimationConfig:
    """Decimation for a rate in frames/s: 0, or at least the camera's ``fps``, is every frame.

    At the camera's own rate a throttle would drop a frame that arrives a little early; every
    frame is what was asked for.
    """
    if rate_hz <= 0 or rate_hz >= fps:
        return DecimationConfig()
    return DecimationConfig(max_rate_hz=float(rate_hz))


class LatestFrame:
    """Hands the newest frame from one producer to one consumer through a pool of three.

    One buffer is being filled, one waits, one is being processed, so neither side waits for
    the other and nothing is allocated per frame after the first. Putting a frame over one that
    is still waiting replaces it (counted in ``overwritten``).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._free: list[Frame] = []
        self._ready: Frame | None = None
        self._closed = False
        self.overwritten = 0

    def put(self, frame: Frame) -> None:
        """Copy ``frame`` in as the newest frame (never blocks on the consumer)."""
        with self._cond:
            if self._closed:
                return
            if not self._free and self._ready is None:
                self._free = [Frame(frame.format) for _ in range(2)]
            if self._free:
                slot = self._free.pop()
            else:
                slot, self._ready = self._ready, None
                self.overwritten += 1
            frame.copy_into(slot)
            self._ready = slot
            self._cond.notify()

    @property
    def closed(self) -> bool:
        return self._closed

    def take(self, timeout: float) -> Frame | None:
        """Return the newest frame, or None after ``timeout`` s or once closed."""
        with self._cond:
            self._cond.wait_for(lambda: self._ready is not None or self._closed, timeout)
            if self._closed:
                return None
            frame, self._ready = self._ready, None
            return frame

    def release(self, frame: Frame) -> None:
        """Give a taken frame's buffer back for reuse."""
        with self._cond:
            if len(self._free) < 2:
                self._free.append(frame)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._ready = None
            self._cond.notify_all()


class CentroidWorker:
    """Decimate on the capture thread, process the newest due frame on a worker thread."""

    def __init__(self, pipeline: CentroidPipeline, on_result: ResultSink,
                 on_error: Callable[[str], None] | None = None) -> None:
        self.pipeline = pipeline
        self._on_result = on_result
        self._on_error = on_error
        self._mailbox = LatestFrame()
        # Held while a frame is processed and while statistics are taken, so a report never
        # sees half of a frame's counts.
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.published = 0
        self.failures = 0

    @property
    def overwritten(self) -> int:
        """Due frames replaced by a newer one before the worker got to them."""
        return self._mailbox.overwritten

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name='picam-centroids', daemon=True)
        self._thread.start()

    def stop(self, timeout: float = JOIN_TIMEOUT_S) -> bool:
        """Stop taking frames; True when the thread ended within ``timeout`` s."""
        self._mailbox.close()
        thread, self._thread = self._thread, None
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def offer(self, frame: Frame) -> bool:
        """Take the frame if it is due (capture thread); True when it was copied in."""
        if not self.pipeline.accept(frame.mono_ns):
            return False
        self._mailbox.put(frame)
        return True

    def set_decimation(self, config: DecimationConfig) -> None:
        self.pipeline.set_decimation(config)

    def report(self) -> WindowStats:
        with self._lock:
            return self.pipeline.report()

    def _run(self) -> None:
        mailbox = self._mailbox
        while not mailbox.closed:
            frame = mailbox.take(0.5)
            if frame is None:
                continue
            try:
                self._process(frame)
            finally:
                mailbox.release(frame)

    def _process(self, frame: Frame) -> None:
        fmt = frame.format
        with self._lock:
            try:
                planes = self.pipeline.planes(fmt.layout, fmt.height, fmt.width,
                                              fmt.row_stride, frame.data)
            except ValueError as error:
                self.pipeline.record_error(str(error))
                return
            results = self.pipeline.process(planes)
        try:
            self._on_result(frame, planes, results)
            self.published += 1
        except Exception as error:  # noqa: BLE001 - one failed publish must not end the worker
            self.failures += 1
            with self._lock:
                self.pipeline.record_error(f'publishing centroids failed: '
                                           f'{type(error).__name__}: {error}')
            if self._on_error is not None:
                self._on_error(f'{type(error).__name__}: {error}')
