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

"""The centroid node's per-frame work, without ROS: decimate, view planes, key, measure, count.

:class:`CentroidPipeline` is what ``centroid_node`` wraps: the node only moves messages in and
out. Keying changes are swapped in whole (immutable ``KeyingParams`` per profile) and apply from
the next processed frame; a frame in progress keeps the settings it started with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
import time
from typing import Any, NamedTuple

import numpy as np

from picam_ros.centroids.engine import find_centroids, key_mask, KeyingParams
from picam_ros.centroids.overlay import debug_overlay
from picam_ros.centroids.settings import KeyingProfiles
from picam_ros.core.formats import Planes
from picam_ros.core.pacing import DecimationConfig, Decimator
from picam_ros.core.payloads import image_planes


class ProfileResult(NamedTuple):
    """Centroids of one keying profile on one frame."""

    profile: str
    blobs: np.ndarray   # picam_ros.centroids.engine.CENTROID_DTYPE, largest first
    dropped: int        # blobs cut by max_centroids


@dataclass
class WindowStats:
    """Counts over one reporting window (see :meth:`CentroidPipeline.report`)."""

    seconds: float = 0.0
    received: int = 0
    processed: int = 0
    errors: int = 0
    processing_ns_total: int = 0
    processing_ns_max: int = 0
    blobs: dict[str, int] = field(default_factory=dict)     # last processed frame, per profile
    dropped: dict[str, int] = field(default_factory=dict)   # summed over the window
    last_error: str = ''
    last_frame_age_s: float | None = None                   # None: no frame received yet

    @property
    def skipped(self) -> int:
        return self.received - self.processed

    @property
    def rate_hz(self) -> float:
        """Return the processed frames per second over the window."""
        return self.processed / self.seconds if self.seconds > 0 else 0.0

    @property
    def received_hz(self) -> float:
        return self.received / self.seconds if self.seconds > 0 else 0.0

    @property
    def processing_ms_mean(self) -> float:
        return self.processing_ns_total / self.processed / 1e6 if self.processed else 0.0

    @property
    def processing_ms_max(self) -> float:
        return self.processing_ns_max / 1e6


def _roi_misfit(profile: str, params: KeyingParams, width: int, height: int) -> str | None:
    if params.roi is None:
        return None
    x, y, w, h = params.roi
    if x + w <= width and y + h <= height:
        return None
    return (f'{profile}.roi: [{x}, {y}, {w}, {h}] does not fit the {width}x{height} frames '
            f'(x + w must be <= {width}, y + h <= {height})')


class CentroidPipeline:
    """Decimation + keying profiles + engine calls + statistics for a stream of images."""

    def __init__(self, profiles: KeyingProfiles, keying: Mapping[str, KeyingParams],
                 decimation: DecimationConfig | None = None,
                 clock_ns: Any = time.monotonic_ns) -> None:
        self.profiles = profiles
        self._keying: dict[str, KeyingParams] = {}
        self.set_keying(keying)
        self.decimator = Decimator(decimation)
        self._clock_ns = clock_ns
        self._window = WindowStats()
        self._window_start_ns = clock_ns()
        self._window_received0 = 0
        self._window_processed0 = 0
        self._last_arrival_ns: int | None = None
        self._debug_buffers: dict[str, np.ndarray] = {}
        #: (width, height) of the last frame processed; None before the first.
        self.frame_size: tuple[int, int] | None = None

    # -- configuration ---------------------------------------------------------------------
    @property
    def keying(self) -> dict[str, KeyingParams]:
        return dict(self._keying)

    def set_keying(self, keying: Mapping[str, KeyingParams]) -> None:
        """Replace the profiles' settings (all profiles must be given); next frame uses them."""
        missing = set(self.profiles.names) - set(keying)
        if missing:
            raise ValueError(f'keying settings missing for profiles {sorted(missing)}')
        self._keying = {name: keying[name] for name in self.profiles.names}

    def set_decimation(self, config: DecimationConfig) -> None:
        self.decimator.configure(config)

    def misfit(self, keying: Mapping[str, KeyingParams]) -> str | None:
        """Say why ``keying`` cannot run on the frames seen so far (an ROI outside them)."""
        if self.frame_size is None:
            return None
        for profile, params in keying.items():
            reason = _roi_misfit(profile, params, *self.frame_size)
            if reason:
                return reason
        return None

    @property
    def needs_chroma(self) -> bool:
        return any(params.uses_chroma for params in self._keying.values())

    # -- per frame -------------------------------------------------------------------------
    def accept(self, now_ns: int | None = None) -> bool:
        """Count an arriving frame and decide whether to process it (cheap: no data touched).

        ``now_ns``: the frame's monotonic time (capture time in process); default: now.
        """
        now = self._clock_ns() if now_ns is None else now_ns
        self._last_arrival_ns = now
        return self.decimator.accept(now)

    def planes(self, encoding: str, height: int, width: int, step: int,
               data: Any) -> Planes:
        """Zero-copy planes of an image message's fields (ValueError on malformed images)."""
        return image_planes(encoding, height, width, step, data, need_chroma=self.needs_chroma)

    def process(self, planes: Planes) -> list[ProfileResult]:
        """Centroids of every profile; a profile that cannot run is skipped and counted."""
        started = time.perf_counter_ns()
        keying = self._keying   # one consistent set for the whole frame
        height, width = planes.luma.shape
        self.frame_size = (width, height)
        results = []
        for profile, params in keying.items():
            if params.uses_chroma and planes.u is None and planes.uv is None:
                self.record_error(f'profile {profile!r} gates on chroma (u/v limits) but the '
                                  f'image has no chroma (mono8)')
                continue
            # A staged value that these frames cannot take (an ROI set before the frame size
            # was known, or frames that shrank): this frame is skipped for it and reported.
            reason = _roi_misfit(profile, params, width, height)
            if reason:
                self.record_error(f'{reason}; frame skipped')
                continue
            try:
                result = find_centroids(planes.luma, params, planes.u, planes.v, planes.uv,
                                        planes.uv_order or 'vu')
            except ValueError as error:
                self.record_error(f'profile {profile!r}: {error}; frame skipped')
                continue
            results.append(ProfileResult(profile, result.blobs, result.dropped))
            self._window.blobs[profile] = int(result.blobs.shape[0])
            self._window.dropped[profile] = self._window.dropped.get(profile, 0) + result.dropped
        elapsed = time.perf_counter_ns() - started
        self._window.processing_ns_total += elapsed
        self._window.processing_ns_max = max(self._window.processing_ns_max, elapsed)
        return results

    def debug_image(self, profile: str, planes: Planes, blobs: np.ndarray,
                    out: np.ndarray | None = None) -> np.ndarray:
        """(H, W, 3) BGR overlay of ``profile``'s key and centroids on the frame."""
        params = self._keying[profile]
        if params.uses_chroma and planes.u is None and planes.uv is None:
            mask = None
        else:
            mask = key_mask(planes.luma, params, planes.u, planes.v, planes.uv,
                            planes.uv_order or 'vu')
        return debug_overlay(planes.luma, mask, blobs, out=out)

    def record_error(self, message: str) -> None:
        self._window.errors += 1
        self._window.last_error = message

    # -- statistics ------------------------------------------------------------------------
    def report(self) -> WindowStats:
        """Statistics since the previous report; starts a new window."""
        now = self._clock_ns()
        window = self._window
        window.seconds = (now - self._window_start_ns) / 1e9
        window.received = self.decimator.received - self._window_received0
        window.processed = self.decimator.processed - self._window_processed0
        window.last_frame_age_s = (None if self._last_arrival_ns is None
                                   else (now - self._last_arrival_ns) / 1e9)
        self._window = WindowStats(blobs=dict(window.blobs))
        self._window_start_ns = now
        self._window_received0 = self.decimator.received
        self._window_processed0 = self.decimator.processed
        return window
