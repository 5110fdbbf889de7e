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

"""Sensor timestamps: rpicam-vid's ``--save-pts`` stream, mapped onto the node's clock.

rpicam-vid writes one line per frame (``# timecode format v2`` first, then the frame's sensor
time in milliseconds since the run's first frame, e.g. ``40.000``) right after the frame itself
(``output/output.cpp``; flushed with ``--flush``). :class:`PtsPipe` hands rpicam-vid a FIFO for
that file and reads it line by line; :class:`SensorClock` maps a pts onto the monotonic clock.

Mapping: a frame read at ``t_read`` with pts ``p`` has ``t_read - p = offset + delay`` where
the delay (pipe, scheduling) is never negative. The smallest ``t_read - p`` over a sliding
window (a minimum-delay filter) estimates ``offset`` plus the pipeline's least latency, so
``p + offset`` carries the sensor's own spacing of frames without the pipe's jitter; the window
lets the estimate follow a slow drift between the two clocks. Stamps never go backwards. A pts
that places the frame later than its read time, or more than ``max_delay`` before it, means
the pts stream is out of step: the frame keeps its read time and the estimate starts over.
"""

from __future__ import annotations

import collections
import contextlib
import os
import select
import shutil
import tempfile
import time

PTS_HEADER = '# timecode format v2'
_NS_PER_MS = 1_000_000


class SensorClock:
    """Minimum-delay mapping of sensor pts (ms, one run) onto monotonic nanoseconds."""

    def __init__(self, window_s: float = 5.0, max_delay_s: float = 1.0) -> None:
        self.window_ns = int(window_s * 1e9)
        self.max_delay_ns = int(max_delay_s * 1e9)
        # (read time, t_read - pts) with increasing values: the front is the window's minimum.
        self._minima: collections.deque[tuple[int, int]] = collections.deque()
        self._last_stamp: int | None = None

    def reset(self) -> None:
        """Forget the offset (a new run of rpicam-vid counts pts from zero again)."""
        self._minima.clear()

    @property
    def offset_ns(self) -> int | None:
        return self._minima[0][1] if self._minima else None

    def stamp(self, pts_ms: float, read_ns: int) -> int | None:
        """Return the frame's capture time on the monotonic clock, or None when out of step."""
        pts_ns = round(pts_ms * _NS_PER_MS)
        sample = read_ns - pts_ns
        offset = self.offset_ns
        if offset is not None and not (offset - self.max_delay_ns <= sample
                                       <= offset + self.max_delay_ns):
            self.reset()
            return None
        minima = self._minima
        while minima and minima[-1][1] >= sample:
            minima.pop()
        minima.append((read_ns, sample))
        while minima[0][0] < read_ns - self.window_ns:
            minima.popleft()
        stamp = min(pts_ns + minima[0][1], read_ns)
        if self._last_stamp is not None and stamp <= self._last_stamp:
            stamp = self._last_stamp + 1
        self._last_stamp = stamp
        return stamp


class PtsPipe:
    """A FIFO for ``--save-pts`` and the reader of its lines (one line per frame).

    The FIFO is opened read-write here, so rpicam-vid's open never blocks and a child that
    exits does not end the stream: each run starts with the header line, which is how the
    lines of one run are told from the leftovers of the previous one.
    """

    def __init__(self) -> None:
        self._dir = tempfile.mkdtemp(prefix='picam-pts-')
        self.path = os.path.join(self._dir, 'pts')
        os.mkfifo(self.path, 0o600)
        self._fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK)
        self._pending = b''
        self._lines: collections.deque[str] = collections.deque(maxlen=64)
        self._in_run = False
        self._skip = 0

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        shutil.rmtree(self._dir, ignore_errors=True)

    def new_run(self, skip: int = 0) -> None:
        """Start pairing with a new run: its lines begin at its header (maybe already here)."""
        self._drain()
        lines = list(self._lines)
        self._lines.clear()
        if PTS_HEADER in lines:
            last = len(lines) - 1 - lines[::-1].index(PTS_HEADER)
            self._lines.extend(lines[last:])
        self._in_run = False
        self._skip = skip

    def skip(self, frames: int) -> None:
        """Drop the pts of the next ``frames`` frames (they were consumed without a stamp)."""
        self._skip += frames

    def next_pts(self, timeout: float) -> float | None:
        """Return the pts (ms) of the next frame of this run, waiting up to ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            self._drain()
            while self._lines:
                line = self._lines.popleft()
                if line == PTS_HEADER:
                    self._in_run = True
                    continue
                if not self._in_run:
                    continue
                if self._skip:
                    self._skip -= 1
                    continue
                try:
                    return float(line)
                except ValueError:
                    continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            with contextlib.suppress(InterruptedError):
                select.select([self._fd], [], [], remaining)

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self._fd, 65536)
            except BlockingIOError:
                return
            if not chunk:
                return
            *lines, self._pending = (self._pending + chunk).split(b'\n')
            self._pending = self._pending[-256:]   # a line never gets longer than this
            self._lines.extend(line.decode('ascii', 'replace').strip() for line in lines)
