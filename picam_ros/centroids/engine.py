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

"""Centroid engine: key pixels by luma/chroma range, then measure every connected blob exactly.

The work happens in C++ (``picam_ros._centroids``) in one pass over the frame with no full-size
label image. This module owns the configuration (``KeyingParams``: one validated table whose
field metadata also drives ROS parameter descriptors and CLI flags) and the numpy-facing API.

Results equal OpenCV's ``connectedComponentsWithStats`` on the same key mask: areas and boxes
exactly, centroids to the last bit in practice (the sums are exact integers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from picam_ros import _centroids
from picam_ros.core.config import check_value, config_field, ConfigBase, ConfigError

__all__ = [
    'CENTROID_DTYPE',
    'CentroidResult',
    'KeyingParams',
    'find_centroids',
    'find_centroids_in_frame',
    'key_mask',
]

# One record per blob. Packed (77 bytes): the C++ layer writes records at these offsets.
CENTROID_DTYPE = np.dtype([
    ('x', 'f8'),               # mean pixel x, full-frame coordinates, pixel centres at integers
    ('y', 'f8'),
    ('area', 'u4'),            # pixels
    ('bbox_x', 'i4'),
    ('bbox_y', 'i4'),
    ('bbox_w', 'i4'),
    ('bbox_h', 'i4'),
    ('touches_border', '?'),   # the box touches the edge of the searched region (frame or ROI)
    ('mean_luma', 'f4'),
    ('mu20', 'f8'),            # central moments (raw, as cv2.moments' mu20, mu11, mu02)
    ('mu11', 'f8'),
    ('mu02', 'f8'),
    ('orientation', 'f4'),     # equivalent ellipse: major axis angle, radians from +x towards +y
    ('major_axis', 'f4'),      # full axis lengths of the equivalent ellipse, pixels
    ('minor_axis', 'f4'),
])


def _check_record_layout() -> None:
    """Fail at import, not with garbage results, if the dtype and the C++ writer disagree."""
    native = [(name, offset) for name, offset in _centroids.RECORD_FIELDS]
    ours = [(name, CENTROID_DTYPE.fields[name][1]) for name in CENTROID_DTYPE.names]
    if native != ours or CENTROID_DTYPE.itemsize != _centroids.RECORD_ITEMSIZE:
        raise ImportError(
            f'picam_ros._centroids writes records as {native} ({_centroids.RECORD_ITEMSIZE} bytes)'
            f' but CENTROID_DTYPE is {ours} ({CENTROID_DTYPE.itemsize} bytes): rebuild the'
            ' extension (python setup.py build_ext --inplace)')


_check_record_layout()

_MAX_AREA = 2**31 - 1
_MAX_ROI_SIDE = 65535


@dataclass(frozen=True)
class KeyingParams(ConfigBase):
    """What counts as a keyed pixel and which blobs are reported.

    Each field's metadata (:func:`~picam_ros.core.config.config_field`) holds its range and
    description; optional fields default to None (the gate is off). ROS parameter descriptors and
    CLI flags are generated from this table, and every constructor (direct, ``from_dict``,
    ``replace``) runs the same validation as every other config.
    """

    luma_min: int = config_field(150, 'Lowest luma (Y) that is keyed, inclusive.', low=0,
                                 high=255, live=True)
    luma_max: int = config_field(255, 'Highest luma (Y) that is keyed, inclusive.', low=0,
                                 high=255, live=True)
    u_min: int | None = config_field(None, 'Lowest chroma U (Cb) that is keyed; not set: no '
                                     'lower U bound.', low=0, high=255, kind=int, live=True)
    u_max: int | None = config_field(None, 'Highest chroma U (Cb) that is keyed; not set: no '
                                     'upper U bound.', low=0, high=255, kind=int, live=True)
    v_min: int | None = config_field(None, 'Lowest chroma V (Cr) that is keyed; not set: no '
                                     'lower V bound.', low=0, high=255, kind=int, live=True)
    v_max: int | None = config_field(None, 'Highest chroma V (Cr) that is keyed; not set: no '
                                     'upper V bound.', low=0, high=255, kind=int, live=True)
    invert: bool = config_field(False, 'Key the pixels outside the ranges instead (dark '
                                'features on a bright background).', live=True)
    roi: tuple[int, int, int, int] | None = config_field(
        None, 'Search only this rectangle (x, y, width, height) in pixels; not set or empty: the '
        'whole frame. Coordinates stay full-frame.', low=0, high=_MAX_ROI_SIDE, kind=tuple,
        live=True, parse=lambda value: _validated_roi(value))
    connectivity: int = config_field(4, 'Pixel connectivity of a blob: 4 (edges) or 8 (edges '
                                     'and corners).', low=4, high=8, choices=(4, 8), live=True)
    min_area: int = config_field(1, 'Blobs with fewer pixels are ignored.', low=1,
                                 high=_MAX_AREA, live=True)
    max_area: int = config_field(0, 'Blobs with more pixels are ignored; 0 = no limit.', low=0,
                                 high=_MAX_AREA, live=True)
    max_centroids: int = config_field(1000, 'Report at most this many blobs (largest first); '
                                      'the rest are counted as dropped.', low=1,
                                      high=1_000_000, live=True)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.luma_min > self.luma_max:
            raise ConfigError('luma_min', f'{self.luma_min} is greater than luma_max '
                                          f'{self.luma_max}', mentions=('luma_max',))
        for plane in ('u', 'v'):
            low, high = getattr(self, f'{plane}_min'), getattr(self, f'{plane}_max')
            if low is not None and high is not None and low > high:
                raise ConfigError(f'{plane}_min', f'{low} is greater than {plane}_max {high}',
                                  mentions=(f'{plane}_max',))
        if self.max_area and self.max_area < self.min_area:
            raise ConfigError('max_area', f'{self.max_area} is smaller than min_area '
                                          f'{self.min_area} (use 0 for no upper limit)',
                              mentions=('min_area',))
        # Arguments for the native call, computed once per (immutable) instance.
        object.__setattr__(self, '_native_keying', (
            self.luma_min, self.luma_max, *_gate(self.u_min, self.u_max),
            *_gate(self.v_min, self.v_max), self.invert))

    @property
    def uses_chroma(self) -> bool:
        """Tell whether a U or V gate is set, so the frame's chroma planes are needed."""
        return any(getattr(self, name) is not None
                   for name in ('u_min', 'u_max', 'v_min', 'v_max'))


_SIDE = {'type': int, 'min': 0, 'max': _MAX_ROI_SIDE}


def _validated_roi(value: Any) -> tuple[int, int, int, int] | None:
    items = list(value) if isinstance(value, (tuple, list, np.ndarray)) else None
    if items is None:
        raise ConfigError('', f'expected (x, y, width, height) or None, got {value!r}')
    if not items:  # ROS integer-array parameters cannot be None: empty means "whole frame"
        return None
    if len(items) != 4:
        raise ConfigError('', f'expected 4 values (x, y, width, height), got {len(items)}')
    x, y, width, height = (check_value(f'.{part}', item, _SIDE)
                           for part, item in zip(('x', 'y', 'width', 'height'), items))
    if width < 1 or height < 1:
        raise ConfigError('', f'width and height must be >= 1, got {width}x{height}')
    return (x, y, width, height)


def _gate(low: int | None, high: int | None) -> tuple[int, int]:
    """Encode a chroma gate for the native layer: (-1, -1) = off, else an inclusive range."""
    if low is None and high is None:
        return (-1, -1)
    return (0 if low is None else low, 255 if high is None else high)


class CentroidResult(NamedTuple):
    blobs: np.ndarray  # CENTROID_DTYPE, largest area first, ties in raster order of first pixel
    dropped: int       # blobs that passed the area filter but were cut by max_centroids


def _checked_plane(name: str, plane: Any) -> np.ndarray:
    """Return a zero-copy ndarray view of `plane`; errors name the argument."""
    array = np.asarray(plane)
    if array.dtype != np.uint8:
        raise ValueError(f'{name}: expected dtype uint8, got {array.dtype}')
    if array.ndim != 2:
        raise ValueError(f'{name}: expected a 2-D array, got {array.ndim}-D shape {array.shape}')
    return array


def _native_args(luma: Any, params: KeyingParams, u: Any, v: Any, uv: Any,
                 uv_order: str) -> tuple:
    if not isinstance(params, KeyingParams):
        raise TypeError(f'params: expected KeyingParams, got {type(params).__name__}')
    if uv_order not in ('uv', 'vu'):
        raise ValueError(f"uv_order: expected 'uv' (NV12) or 'vu' (NV21), got {uv_order!r}")
    luma = _checked_plane('luma', luma)
    planes = [None if p is None else _checked_plane(n, p)
              for n, p in (('u', u), ('v', v), ('uv', uv))]
    height, width = luma.shape
    roi = params.roi if params.roi is not None else (0, 0, width, height)
    return (luma, *planes, uv_order, *params._native_keying, *roi)


def find_centroids(luma: np.ndarray, params: KeyingParams, u: np.ndarray | None = None,
                   v: np.ndarray | None = None, uv: np.ndarray | None = None,
                   uv_order: str = 'vu') -> CentroidResult:
    """Key `luma` (2-D uint8, any row stride) and measure every blob.

    Chroma, needed only when `params` gates on U/V: planar `u`, `v` (I420, half resolution,
    rounded up) or interleaved `uv` with `uv_order` 'uv' (NV12) or 'vu' (NV21). Luma pixel
    (x, y) uses chroma sample (x // 2, y // 2). The arrays are read in place (no copy) with the
    GIL released. Coordinates are full-frame even with an ROI.
    """
    args = _native_args(luma, params, u, v, uv, uv_order)
    records, dropped = _centroids.find_centroids(
        *args, params.connectivity, params.min_area, params.max_area, params.max_centroids)
    return CentroidResult(np.frombuffer(records, CENTROID_DTYPE), int(dropped))


def key_mask(luma: np.ndarray, params: KeyingParams, u: np.ndarray | None = None,
             v: np.ndarray | None = None, uv: np.ndarray | None = None,
             uv_order: str = 'vu') -> np.ndarray:
    """Return the key as an (H, W) uint8 image of 0/255 (0 outside the ROI), for overlays."""
    args = _native_args(luma, params, u, v, uv, uv_order)
    mask = np.zeros(args[0].shape, np.uint8)
    _centroids.key_mask(*args, mask)
    return mask


def _frame_planes(frame: Any, params: KeyingParams) -> dict[str, Any]:
    """Chroma arguments for a picam_ros.core.frames.Frame (its ``planes()``, zero-copy)."""
    planes = frame.planes()
    if not params.uses_chroma:
        return {}
    if planes.u is None and planes.uv is None:
        raise ValueError(f'frame: layout {frame.format.layout} has no chroma, but params gate '
                         f'on U/V (u_min/u_max/v_min/v_max)')
    if planes.uv is not None:
        return {'uv': planes.uv, 'uv_order': planes.uv_order}
    return {'u': planes.u, 'v': planes.v}


def find_centroids_in_frame(frame: Any, params: KeyingParams) -> CentroidResult:
    """``find_centroids`` on a ``Frame`` (i420/nv12/nv21/mono8), zero-copy."""
    return find_centroids(frame.y, params, **_frame_planes(frame, params))


def key_mask_in_frame(frame: Any, params: KeyingParams) -> np.ndarray:
    """``key_mask`` on a ``picam_ros.core.frames.Frame``."""
    return key_mask(frame.y, params, **_frame_planes(frame, params))
