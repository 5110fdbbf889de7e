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

"""Is the image still? The "fresh frame after motion" rule and the noise it is judged against.

A service that answers "where is the part now" must not measure a frame taken while the gantry
still moved. Two consecutive frames of a still scene differ only by sensor noise, so the rule is:
the first frame after the request whose mean absolute luma difference to the frame before it
(both after the request) is at most a threshold. A fixed threshold is a guess that fails on a
noisier camera (the synthetic scene's still frames differ by 2.3 grey levels, more than the 2.0
that was shipped), so the threshold follows the noise: :class:`StillNoise` measures every
frame's difference to the one before and keeps the smallest of a recent window, which is the
still-scene difference as soon as the scene has been still once in that window, and the
threshold is ``max(settle_threshold, noise_factor * that)``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
import threading

import numpy as np

from picam_ros.core.frames import Frame

__all__ = ['FreshRequest', 'SettleRule', 'StillNoise', 'settle_difference']

#: Settling compares every 4th pixel of every 4th row: 1/16 of the luma, plenty for a mean.
SETTLE_STEP = 4


def settle_difference(previous: np.ndarray, luma: np.ndarray) -> float:
    """Mean absolute difference of two subsampled luma planes (grey levels)."""
    return float(np.mean(np.abs(previous.astype(np.int16) - luma.astype(np.int16))))


def subsampled(frame: Frame) -> np.ndarray:
    return frame.y[::SETTLE_STEP, ::SETTLE_STEP]


class StillNoise:
    """The difference of consecutive frames of one camera when nothing moves, measured live.

    ``add`` is called for every frame on the capture thread; ``floor`` (any thread) is the
    smallest difference of the last `window` frame pairs, None before the second frame.
    """

    def __init__(self, window: int = 250) -> None:
        self._previous: np.ndarray | None = None
        self._differences: deque[float] = deque(maxlen=window)
        self._lock = threading.Lock()

    def add(self, frame: Frame) -> None:
        luma = subsampled(frame)
        previous = self._previous
        if previous is None or previous.shape != luma.shape:
            self._previous = luma.copy()
            return
        difference = settle_difference(previous, luma)
        np.copyto(previous, luma)
        with self._lock:
            self._differences.append(difference)

    @property
    def floor(self) -> float | None:
        with self._lock:
            return min(self._differences) if self._differences else None


@dataclass(frozen=True)
class SettleRule:
    """``max(threshold, noise_factor * still noise)``; both 0: the first frame, unsettled."""

    threshold: float = 0.0
    noise_factor: float = 0.0

    @property
    def settles(self) -> bool:
        return self.threshold > 0 or self.noise_factor > 0

    def limit(self, noise: float | None) -> float | None:
        """Return the threshold for a measured still noise (None: not known yet)."""
        if self.noise_factor <= 0:
            return self.threshold
        if noise is None:
            return None
        return max(self.threshold, self.noise_factor * noise)

    def describe(self, noise: float | None) -> str:
        parts = [f'fresh.settle_threshold {self.threshold:g}']
        if self.noise_factor > 0:
            shown = 'not measured yet' if noise is None else f'{noise:.2f}'
            parts.append(f'fresh.settle_noise_factor {self.noise_factor:g} x still-frame '
                         f'difference {shown}')
        return ', '.join(parts)


class FreshRequest:
    """Waits for the first frame captured after ``requested_ns`` (and settled, if asked)."""

    def __init__(self, requested_ns: int, settle_threshold: float = 0.0,
                 noise: StillNoise | None = None, noise_factor: float = 0.0) -> None:
        self.requested_ns = requested_ns
        self.rule = SettleRule(settle_threshold, noise_factor if noise is not None else 0.0)
        self.noise = noise
        self._previous: np.ndarray | None = None
        self.difference: float | None = None   # last measured frame difference
        self.threshold: float | None = None     # the threshold it was compared with
        self.frames_seen = 0

    @property
    def settle_threshold(self) -> float:
        return self.rule.threshold

    def offer(self, frame: Frame) -> bool:
        """Return True when ``frame`` is the one asked for."""
        if frame.mono_ns <= self.requested_ns:
            return False
        self.frames_seen += 1
        if not self.rule.settles:
            return True
        luma = subsampled(frame)
        previous, self._previous = self._previous, luma.copy()
        if previous is None:
            return False
        self.difference = settle_difference(previous, luma)
        self.threshold = self.rule.limit(None if self.noise is None else self.noise.floor)
        return self.threshold is not None and self.difference <= self.threshold

    def why_not(self, camera: str, timeout: float) -> str:
        """Say why no frame was taken within `timeout` seconds: none came, or none was still."""
        if self.frames_seen == 0:
            return (f'no {camera} frame arrived within {timeout:g} s (fresh.timeout): the '
                    'camera delivers no frames')
        noise = None if self.noise is None else self.noise.floor
        limit = 'unknown' if self.threshold is None else f'{self.threshold:.2f}'
        last = 'none yet' if self.difference is None else f'{self.difference:.2f}'
        return (f'{camera}: {self.frames_seen} frames arrived within {timeout:g} s '
                f'(fresh.timeout) but none was still: last frame difference {last} > '
                f'threshold {limit} grey levels ({self.rule.describe(noise)})')
