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

"""Frame pacing: how fast frames come (a rate meter) and which ones go on (throttle, decimator)."""

from __future__ import annotations

import collections
from dataclasses import dataclass

from picam_ros.core.config import config_field, ConfigBase
from picam_ros.core.params import ParamRow, rows_from_config

_FPS_WINDOW = 50


class RateMeter:
    """Frames/s over the last ``count`` frames, or those of the last ``window_s`` seconds.

    Bounded either way (at most ``count`` stamps are kept). ``add`` is called by one thread;
    ``fps``/``rate`` may be read from any.
    """

    def __init__(self, count: int = _FPS_WINDOW, window_s: float | None = None) -> None:
        self._stamps: collections.deque[int] = collections.deque(maxlen=count)
        self._window_ns = None if window_s is None else int(window_s * 1e9)

    def add(self, mono_ns: int) -> None:
        self._stamps.append(mono_ns)

    @property
    def last(self) -> int | None:
        """Return the stamp of the newest frame (None before the first)."""
        stamps = self._stamps
        return stamps[-1] if stamps else None

    @property
    def fps(self) -> float:
        """Return the rate over the kept frames (the time window is not applied)."""
        return _rate(list(self._stamps))

    def rate(self, now_ns: int) -> float:
        """Return the rate over the frames of the time window ending at ``now_ns``."""
        stamps = list(self._stamps)
        if self._window_ns is not None:
            stamps = [t for t in stamps if now_ns - t <= self._window_ns]
        return _rate(stamps)


def _rate(stamps: list[int]) -> float:
    if len(stamps) < 2 or stamps[-1] <= stamps[0]:
        return 0.0
    return (len(stamps) - 1) * 1e9 / (stamps[-1] - stamps[0])


class FrameThrottle:
    """Pick frames by capture time so that at most ``rate_hz`` pass on average.

    Slots are laid on a fixed schedule (next = previous slot + period), so capture jitter
    does not lower the output rate; after a gap longer than one period the schedule restarts
    at the next frame. A frame less than half a frame interval before its slot is the frame
    nearest to it and takes it: with the rate equal to the camera's, a frame a millisecond
    early would otherwise miss its slot and halve the rate. The frame interval is a running
    mean of the gaps up to one period (longer ones are pauses, or a camera slower than the
    rate, where every frame passes anyway). The schedule advances one period per frame taken,
    so the long-run rate never exceeds ``rate_hz``. ``rate_hz == 0`` passes nothing.
    """

    def __init__(self, rate_hz: float) -> None:
        if not rate_hz >= 0:
            raise ValueError(f'throttle rate must be >= 0 Hz, got {rate_hz}')
        self._period_ns = round(1e9 / rate_hz) if rate_hz > 0 else 0
        self._next_ns: int | None = None
        self._last_ns: int | None = None
        self._interval_ns = 0   # running mean of the frame gaps within one period; 0: unknown

    def _slack_ns(self, mono_ns: int) -> int:
        last, self._last_ns = self._last_ns, mono_ns
        gap = mono_ns - last if last is not None else 0
        if 0 < gap <= self._period_ns:
            self._interval_ns = gap if not self._interval_ns else (
                self._interval_ns + (gap - self._interval_ns) // 8)
        return min(self._interval_ns, self._period_ns) // 2

    @property
    def enabled(self) -> bool:
        return self._period_ns > 0

    def accept(self, mono_ns: int) -> bool:
        if not self._period_ns:
            return False
        slack = self._slack_ns(mono_ns)
        if self._next_ns is not None and mono_ns < self._next_ns - slack:
            return False
        if self._next_ns is None or mono_ns - self._next_ns >= self._period_ns:
            self._next_ns = mono_ns + self._period_ns
        else:
            self._next_ns += self._period_ns
        return True


@dataclass(frozen=True)
class DecimationConfig(ConfigBase):
    """Which incoming frames the centroid node processes; the rest are dropped unopened."""

    process_every_n: int = config_field(
        1, 'process one frame in every n received (1 = every frame)', low=1, high=1000,
        live=True)
    max_rate_hz: float = config_field(
        0.0, 'process at most this many frames per second, picked by arrival time (0 = no '
        'limit)', low=0.0, high=1000.0, live=True)


#: The decimation parameters of the centroid node (live-tunable).
DECIMATION_ROWS: tuple[ParamRow, ...] = rows_from_config(DecimationConfig)


class Decimator:
    """Counts incoming frames and says which to process.

    ``process_every_n`` keeps every n-th frame; ``max_rate_hz`` then keeps frames on a fixed
    schedule of slots (as the camera's throttled topic does), so arrival jitter does not lower
    the rate. Replacing the config restarts the schedule and the count.
    """

    def __init__(self, config: DecimationConfig | None = None) -> None:
        self.received = 0
        self.processed = 0
        self.configure(config or DecimationConfig())

    @property
    def config(self) -> DecimationConfig:
        return self._config

    @property
    def skipped(self) -> int:
        return self.received - self.processed

    def configure(self, config: DecimationConfig) -> None:
        self._config = config
        self._phase = 0
        self._throttle = FrameThrottle(config.max_rate_hz) if config.max_rate_hz > 0 else None

    def accept(self, now_ns: int) -> bool:
        """Whether the frame arriving at monotonic time ``now_ns`` should be processed."""
        self.received += 1
        phase, self._phase = self._phase, (self._phase + 1) % self._config.process_every_n
        if phase:
            return False
        if self._throttle is not None and not self._throttle.accept(now_ns):
            return False
        self.processed += 1
        return True
