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

"""Calibration of the machine's two cameras, and pixels to millimetres and the controller's frame.

What the operator calibrates (the original machine's procedure): the nozzle centre in the
up-looking camera's image (clicked in the ``onlyup`` view, or found automatically as the round
blob nearest the image centre), then a reference mark (the nozzle datum) in the down-looking
camera's image (``onlydown`` view), and the scale of each camera (mm per pixel, from two points a
known distance apart). From these:

- a centroid in millimetres relative to the nozzle: ``(p - nozzle) * mm_per_pixel`` in the
  camera's own image axes (x right, y down; the up camera's ``--vflip`` is already in its image);
- a centroid normalised as the original controller read it: ``p / size - 0.5``, in [-0.5, 0.5)
  for pixel centres 0 .. size - 1;
- the composite offset (``CompositeParams.offset_x/y``) that puts the up camera's nozzle on the
  down camera's datum, and the crosshair position (``nozzle_x/y``) at that datum.

The calibration is its own YAML file (like a camera_info file), written atomically (temporary
file in the same directory, fsync, rename), so a crash mid-write leaves the old file intact.
ROS-free: the node's parameters and services call these functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
import math
import os
from pathlib import Path
import tempfile
from typing import Any

import numpy as np
import yaml

from picam_ros.centroids.engine import find_centroids, KeyingParams
from picam_ros.core.yaml_doc import load_mapping, read_text

__all__ = [
    'CameraGeometry',
    'MachineCalibration',
    'NozzleTip',
    'find_nozzle_tip',
    'load_machine_calibration',
    'normalised',
    'parse_machine_calibration',
    'save_machine_calibration',
    'scale_from_points',
]

FORMAT_VERSION = 1


@dataclass(frozen=True)
class CameraGeometry:
    """One camera: frame size, scale and where the nozzle (or the datum) is in its image."""

    width: int
    height: int
    mm_per_pixel: float = 0.01
    nozzle_x: float | None = None  # pixels; None = not calibrated yet (frame centre is used)
    nozzle_y: float | None = None

    def __post_init__(self) -> None:
        for name in ('width', 'height'):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2:
                raise ValueError(f'{name}: expected an integer >= 2, got {value!r}')
        if not _finite(self.mm_per_pixel) or self.mm_per_pixel <= 0:
            raise ValueError(f'mm_per_pixel: expected a positive number, got '
                             f'{self.mm_per_pixel!r}')
        if (self.nozzle_x is None) != (self.nozzle_y is None):
            raise ValueError('nozzle_x, nozzle_y: give both or neither')
        for name in ('nozzle_x', 'nozzle_y'):
            value = getattr(self, name)
            if value is not None and not _finite(value):
                raise ValueError(f'{name}: expected a finite number, got {value!r}')

    @property
    def nozzle(self) -> tuple[float, float]:
        """Return the calibrated nozzle position, or the frame centre when not calibrated."""
        if self.nozzle_x is None:
            return ((self.width - 1) / 2, (self.height - 1) / 2)
        return (float(self.nozzle_x), float(self.nozzle_y))

    def to_mm(self, points: Any) -> np.ndarray:
        """Convert (N, 2) pixel points to mm relative to the nozzle, image axes."""
        pts = _points(points)
        return (pts - np.asarray(self.nozzle)) * self.mm_per_pixel

    def to_pixels(self, points_mm: Any) -> np.ndarray:
        """Convert (N, 2) mm points relative to the nozzle back to pixels (inverse of to_mm)."""
        return _points(points_mm) / self.mm_per_pixel + np.asarray(self.nozzle)

    def normalised(self, points: Any) -> np.ndarray:
        """Convert (N, 2) pixel points to the controller's [-0.5, 0.5) frame."""
        return normalised(points, self.width, self.height)


@dataclass(frozen=True)
class MachineCalibration:
    """Both cameras of the machine; ``down`` holds the nozzle datum (the reference mark)."""

    down: CameraGeometry
    up: CameraGeometry
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def composite_offset(self) -> tuple[int, int]:
        """Return the composite shift that draws the up nozzle on the down datum (even px).

        The composite shows up pixel (x - dx, y - dy) at output (x, y), so dx = datum - nozzle
        (the original machine's "up - down" with its opposite sign convention), rounded to whole
        chroma samples.
        """
        (dx_, dy_), (ux, uy) = self.down.nozzle, self.up.nozzle
        return (_even(dx_ - ux), _even(dy_ - uy))

    def crosshair_offset(self) -> tuple[int, int]:
        """Return the crosshair position relative to the frame centre: the down datum."""
        dx_, dy_ = self.down.nozzle
        return (round(dx_ - self.down.width / 2), round(dy_ - self.down.height / 2))

    def with_up_nozzle(self, x: float, y: float) -> MachineCalibration:
        """Step 1: the nozzle centre in the up camera's image (clicked or found)."""
        return replace(self, up=replace(self.up, nozzle_x=float(x), nozzle_y=float(y)))

    def with_down_datum(self, x: float, y: float) -> MachineCalibration:
        """Step 2: the reference mark under the nozzle in the down camera's image."""
        return replace(self, down=replace(self.down, nozzle_x=float(x), nozzle_y=float(y)))

    def with_scale(self, camera: str, mm_per_pixel: float) -> MachineCalibration:
        """Step 3: a camera's scale ('up' or 'down')."""
        if camera not in ('up', 'down'):
            raise ValueError(f"camera: expected 'up' or 'down', got {camera!r}")
        return replace(self, **{camera: replace(getattr(self, camera),
                                                mm_per_pixel=float(mm_per_pixel))})

    def to_dict(self) -> dict[str, Any]:
        """Return the YAML document (the inverse of ``parse_machine_calibration``)."""
        def camera(geometry: CameraGeometry) -> dict[str, Any]:
            return {'width': int(geometry.width), 'height': int(geometry.height),
                    'mm_per_pixel': float(geometry.mm_per_pixel),
                    'nozzle_x': None if geometry.nozzle_x is None else float(geometry.nozzle_x),
                    'nozzle_y': None if geometry.nozzle_y is None else float(geometry.nozzle_y)}
        return {'version': FORMAT_VERSION, 'down': camera(self.down), 'up': camera(self.up),
                **dict(self.extra)}


def normalised(points: Any, width: int, height: int) -> np.ndarray:
    """Convert (N, 2) pixel points (pixel centres at integers) to ``p / size - 0.5``.

    Pixel centres 0 .. size - 1 land in [-0.5, 0.5), as the original controller read them.
    """
    return _points(points) / np.array([width, height], np.float64) - 0.5


def scale_from_points(first: Any, second: Any, distance_mm: float) -> float:
    """Return mm per pixel from two image points `distance_mm` apart on the object."""
    a, b = np.asarray(first, np.float64), np.asarray(second, np.float64)
    pixels = float(np.hypot(*(b - a)))
    if not _finite(distance_mm) or distance_mm <= 0:
        raise ValueError(f'distance_mm: expected a positive number, got {distance_mm!r}')
    if pixels < 1.0:
        raise ValueError(f'points: {tuple(a)} and {tuple(b)} are less than a pixel apart')
    return distance_mm / pixels


@dataclass(frozen=True)
class NozzleTip:
    x: float
    y: float
    diameter: float   # pixels, equivalent-ellipse major axis
    roundness: float  # minor / major axis, 1 = circle
    area: int


def find_nozzle_tip(luma: np.ndarray, keying: KeyingParams | None = None,
                    min_roundness: float = 0.8, min_area: int = 20) -> NozzleTip:
    """Find the nozzle tip in an up-camera luma frame: the round blob nearest the centre.

    `keying` selects the tip's pixels (default: bright, luma >= 150, the machine's key). A blob
    counts as round when its equivalent ellipse has minor/major >= `min_roundness` and it fills
    that ellipse (area >= 0.8 of pi/4 * major * minor: not a ring or a C shape). Raises
    LookupError, saying what was seen, when no blob qualifies.
    """
    keying = keying or KeyingParams(luma_min=150, luma_max=255)
    keying = keying.replace(min_area=max(min_area, keying.min_area), max_centroids=10_000)
    blobs = find_centroids(luma, keying).blobs
    height, width = luma.shape
    major = blobs['major_axis'].astype(np.float64)
    minor = blobs['minor_axis'].astype(np.float64)
    with np.errstate(divide='ignore', invalid='ignore'):
        roundness = np.where(major > 0, minor / major, 0.0)
        fill = blobs['area'] / (np.pi / 4 * major * minor)
    candidates = np.flatnonzero((roundness >= min_roundness) & (fill >= 0.8) &
                                ~blobs['touches_border'])
    if candidates.size == 0:
        raise LookupError(f'no round blob (roundness >= {min_roundness}, area >= {min_area}) '
                          f'among the {len(blobs)} keyed blob(s) of the up camera frame')
    centre = ((width - 1) / 2, (height - 1) / 2)
    distance = np.hypot(blobs['x'][candidates] - centre[0], blobs['y'][candidates] - centre[1])
    best = int(candidates[np.argmin(distance)])
    blob = blobs[best]
    return NozzleTip(float(blob['x']), float(blob['y']), float(blob['major_axis']),
                     float(roundness[best]), int(blob['area']))


def parse_machine_calibration(text: str, source: str = '<string>') -> MachineCalibration:
    """Parse the calibration YAML; errors name the file and the key."""
    doc = load_mapping(text, source, 'keys version, down, up')
    if doc.get('version') != FORMAT_VERSION:
        raise ValueError(f'{source}: version: expected {FORMAT_VERSION}, got '
                         f'{doc.get("version")!r}')
    cameras = {}
    for name in ('down', 'up'):
        section = doc.get(name)
        if not isinstance(section, Mapping):
            raise ValueError(  # noqa: TRY004 - a malformed file is a bad value
                f'{source}: {name}: expected a mapping (width, height, '
                'mm_per_pixel, nozzle_x, nozzle_y)')
        unknown = sorted(set(section) - {'width', 'height', 'mm_per_pixel', 'nozzle_x',
                                         'nozzle_y'})
        if unknown:
            raise ValueError(f'{source}: {name}: unknown key(s) {unknown}')
        try:
            cameras[name] = CameraGeometry(**section)
        except (TypeError, ValueError) as exc:
            raise ValueError(f'{source}: {name}.{exc}') from None
    extra = {key: value for key, value in doc.items() if key not in ('version', 'down', 'up')}
    return MachineCalibration(cameras['down'], cameras['up'], extra)


def load_machine_calibration(path: str | os.PathLike) -> MachineCalibration:
    """Read the calibration file at `path`."""
    text = read_text(path, 'machine calibration')
    return parse_machine_calibration(text, str(path))


def save_machine_calibration(path: str | os.PathLike, calibration: MachineCalibration) -> None:
    """Write `calibration` to `path` atomically: readers see the old file or the new one."""
    path = Path(path)
    text = yaml.safe_dump(calibration.to_dict(), sort_keys=False)
    fd, temporary = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _points(points: Any) -> np.ndarray:
    pts = np.asarray(points, np.float64)
    if pts.ndim == 1 and pts.shape[0] == 2:
        pts = pts[np.newaxis]
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f'points: expected shape (N, 2), got {pts.shape}')
    return pts


def _finite(value: Any) -> bool:
    return (isinstance(value, (int, float, np.integer, np.floating)) and
            not isinstance(value, bool) and math.isfinite(value))


def _even(value: float) -> int:
    return 2 * round(value / 2)
