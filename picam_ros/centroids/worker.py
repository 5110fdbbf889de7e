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

from picam_ros.centroids.pipeline import CentroidPipeline, ProfileResult, WindowStats
from picam_ros.core.formats import Planes
from picam_ros.core.frames import Frame, FrameFormat
from picam_ros.core.latest_mailbox import LatestMailbox, MailboxThread
from picam_ros.core.pacing import DecimationConfig

#: Called on the worker thread with the frame, its planes and every profile's result.
ResultSink = Callable[[Frame, Planes, list[ProfileResult]], None]
JOIN_TIMEOUT_S = 1.0   # the node must end within 2 s of SIGINT, capture stop included


def rate_decimation(rate_hz: float, fps: float) -> DecimationConfig:
    """Decimation for a rate in frames/s: 0, or at least the camera's ``fps``, is every frame.

    At the camera's own rate a throttle would drop a frame that arrives a little early; every
    frame is what was asked for.
    """
    if rate_hz <= 0 or rate_hz >= fps:
        return DecimationConfig()
    return DecimationConfig(max_rate_hz=float(rate_hz))


class CentroidWorker:
    """Decimate on the capture thread, process the newest due frame on a worker thread."""

    def __init__(self, pipeline: CentroidPipeline, fmt: FrameFormat, on_result: ResultSink,
                 on_error: Callable[[str], None] | None = None) -> None:
        self.pipeline = pipeline
        self._on_result = on_result
        self._on_error = on_error
        # One frame being filled by capture, one waiting, one being processed.
        self._consumer: MailboxThread[Frame] = MailboxThread(
            LatestMailbox([Frame(fmt) for _ in range(3)]), self._process, 'picam-centroids')
        # Held while a frame is processed and while statistics are taken, so a report never
        # sees half of a frame's counts.
        self._lock = threading.Lock()
        self.published = 0
        self.failures = 0

    @property
    def overwritten(self) -> int:
        """Due frames replaced by a newer one before the worker got to them."""
        return self._consumer.mailbox.replaced

    @property
    def running(self) -> bool:
        return self._consumer.running

    def start(self) -> None:
        self._consumer.start()

    def stop(self, timeout: float = JOIN_TIMEOUT_S) -> bool:
        """Stop taking frames; True when the thread ended within ``timeout`` s."""
        return self._consumer.stop(timeout)

    def offer(self, frame: Frame) -> bool:
        """Take the frame if it is due (capture thread); True when it was copied in.

        Before ``start`` a due frame waits in the mailbox for the thread; after ``stop`` none
        is taken.
        """
        mailbox = self._consumer.mailbox
        if mailbox.closed or not self.pipeline.accept(frame.mono_ns):
            return False
        slot = mailbox.free_slot()
        frame.copy_into(mailbox.pool[slot])   # the source's buffer is only lent to us
        mailbox.publish(slot)
        return True

    def set_decimation(self, config: DecimationConfig) -> None:
        self.pipeline.set_decimation(config)

    def report(self) -> WindowStats:
        with self._lock:
            return self.pipeline.report()

    def _process(self, frame: Frame) -> None:
        # The frame stays ours until the next take: capture fills the other two meanwhile.
        planes = frame.planes()
        with self._lock:
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
