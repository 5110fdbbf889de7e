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

"""The machine's operator view: the up-looking camera composited into the down-looking one.

The kernel is C++ (``picam_ros._centroids.composite_i420``, contract in
``src_cpp/composite.hpp``): both frames I420, the output I420 in a buffer the ``Compositor``
owns and reuses, so it can be published or piped to the encoder without a conversion. The
modes are the original machine's: ``normal`` (composite), ``onlyup``, ``onlydown`` and
``frozen`` (the output keeps the last composed frame; the start-up default of the machine).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from picam_ros import _centroids
from picam_ros.core.config import config_field, ConfigBase, ConfigError

__all__ = ['COMPOSITE_MODES', 'CompositeParams', 'Compositor', 'I420Planes', 'composite_numpy']

#: Mode names as a user types them, and the kernel's code for each ('frozen' never reaches it).
COMPOSITE_MODES = {'normal': 0, 'onlyup': 1, 'onlydown': 2, 'frozen': None}

_MAX_OFFSET = 1 << 20


@dataclass(frozen=True)
class CompositeParams(ConfigBase):
    """How the two frames are combined; every constructor validates (``replace`` included).

    All fields are live: a node applies a change to the next frame pair.
    """

    mode: str = config_field('normal', 'normal (composite), onlyup, onlydown, or frozen (keep '
                             'the last frame).', choices=tuple(COMPOSITE_MODES), live=True)
    offset_x: int = config_field(0, 'Shift of the up frame in the down frame, pixels (even: '
                                 'whole 4:2:0 chroma samples).', low=-_MAX_OFFSET,
                                 high=_MAX_OFFSET, live=True)
    offset_y: int = config_field(0, 'Vertical shift of the up frame, pixels (even).',
                                 low=-_MAX_OFFSET, high=_MAX_OFFSET, live=True)
    u_max: int = config_field(150, 'Up pixels are blended only where U <= u_max ...', low=0,
                              high=255, live=True)
    v_min: int = config_field(90, '... and V >= v_min (the leads, not the background).', low=0,
                              high=255, live=True)
    crosshair: bool = config_field(True, 'Draw the nozzle crosshair.', live=True)
    nozzle_x: int = config_field(0, 'Crosshair centre right of the frame centre, pixels.',
                                 low=-_MAX_OFFSET, high=_MAX_OFFSET, live=True)
    nozzle_y: int = config_field(0, 'Crosshair centre below the frame centre, pixels.',
                                 low=-_MAX_OFFSET, high=_MAX_OFFSET, live=True)
    thickness: int = config_field(1, 'Crosshair line thickness, pixels.', low=1, high=64,
                                  live=True)
    crosshair_y: int = config_field(235, 'Crosshair luma (Y).', low=0, high=255, live=True)
    crosshair_u: int = config_field(128, 'Crosshair chroma U (128 = grey).', low=0, high=255,
                                    live=True)
    crosshair_v: int = config_field(128, 'Crosshair chroma V (128 = grey).', low=0, high=255,
                                    live=True)

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ('offset_x', 'offset_y'):
            if getattr(self, name) % 2:
                raise ConfigError(name, f'{getattr(self, name)} must be even (whole 4:2:0 '
                                  'chroma samples)')


class I420Planes(NamedTuple):
    """Three planes of one I420 frame (views; ``data`` is the whole packed frame when owned)."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray


def _planes_of(frame: Any, name: str) -> I420Planes:
    """Planes of a ``picam_ros.core.frames.Frame`` (i420) or of a (y, u, v) tuple."""
    if hasattr(frame, 'format') and hasattr(frame, 'y'):
        if frame.format.layout != 'i420':
            raise ValueError(f'{name}: expected an i420 frame, got layout '
                             f'{frame.format.layout!r}')
        return I420Planes(frame.y, frame.u, frame.v)
    try:
        y, u, v = frame
    except (TypeError, ValueError):
        raise ValueError(f'{name}: expected an i420 Frame or a (y, u, v) tuple') from None
    return I420Planes(np.asarray(y), np.asarray(u), np.asarray(v))


class Compositor:
    """Composes frame pairs into one reused packed I420 buffer.

    ``compose`` returns views of that buffer: the caller publishes or streams them before the
    next call (or copies them). In ``frozen`` mode the buffer is left as it was, so the output
    holds the last composed frame; with no frame composed yet, the first pair is composed as
    ``normal`` so there is something to hold.
    """

    def __init__(self, params: CompositeParams | None = None) -> None:
        self.params = params if params is not None else CompositeParams()
        self._buffer: np.ndarray | None = None
        self._planes: I420Planes | None = None

    @property
    def output(self) -> np.ndarray | None:
        """Return the packed I420 frame last written (None before the first pair)."""
        return self._buffer

    def _ensure_buffer(self, height: int, width: int) -> I420Planes:
        if self._planes is not None and self._planes.y.shape == (height, width):
            return self._planes
        luma = height * width
        self._buffer = np.empty(luma * 3 // 2, np.uint8)
        chroma = (height // 2, width // 2)
        self._planes = I420Planes(
            self._buffer[:luma].reshape(height, width),
            self._buffer[luma:luma + luma // 4].reshape(chroma),
            self._buffer[luma + luma // 4:].reshape(chroma))
        return self._planes

    def compose(self, down: Any, up: Any) -> I420Planes:
        """Compose `down` (board camera) and `up` (component camera); same even size."""
        down_planes, up_planes = _planes_of(down, 'down'), _planes_of(up, 'up')
        if down_planes.y.ndim != 2:
            raise ValueError(f'down: expected a 2-D luma plane, got shape {down_planes.y.shape}')
        if up_planes.y.shape != down_planes.y.shape:
            raise ValueError(f'up: frame size {up_planes.y.shape[::-1]} differs from the down '
                             f'frame {down_planes.y.shape[::-1]}')
        fresh = self._planes is None or self._planes.y.shape != down_planes.y.shape
        out = self._ensure_buffer(*down_planes.y.shape)
        p = self.params
        if p.mode == 'frozen' and not fresh:
            return out
        mode = COMPOSITE_MODES['normal'] if p.mode == 'frozen' else COMPOSITE_MODES[p.mode]
        _centroids.composite_i420(
            *down_planes, *up_planes, *out, mode, p.offset_x, p.offset_y, p.u_max, p.v_min,
            p.crosshair, p.nozzle_x, p.nozzle_y, p.thickness, p.crosshair_y, p.crosshair_u,
            p.crosshair_v)
        return out


def composite_numpy(down: I420Planes, up: I420Planes, params: CompositeParams,
                    out: I420Planes) -> None:
    """Plain NumPy version of the kernel's contract (``src_cpp/composite.hpp``).

    The test oracle and the benchmark peer; ``frozen`` is composed as ``normal`` here (holding
    the last frame is the ``Compositor``'s job).
    """
    height, width = down.y.shape
    source = up if params.mode == 'onlyup' else down
    for plane, src in zip(out, source):
        plane[...] = src
    if params.mode in ('normal', 'frozen'):
        chroma_h, chroma_w = height // 2, width // 2
        hc, wc = chroma_h // 2, chroma_w // 2
        sx, sy = params.offset_x // 2, params.offset_y // 2
        r0 = max((chroma_h - hc) // 2 + sy, 0)
        r1 = min((chroma_h - hc) // 2 + hc + sy, chroma_h)
        c0 = max((chroma_w - wc) // 2 + sx, 0)
        c1 = min((chroma_w - wc) // 2 + wc + sx, chroma_w)
        if r0 < r1 and c0 < c1:
            up_u = up.u[r0 - sy:r1 - sy, c0 - sx:c1 - sx]
            up_v = up.v[r0 - sy:r1 - sy, c0 - sx:c1 - sx]
            key = (up_u <= params.u_max) & (up_v >= params.v_min)
            luma_key = np.repeat(np.repeat(key, 2, axis=0), 2, axis=1)
            up_y = up.y[2 * (r0 - sy):2 * (r1 - sy), 2 * (c0 - sx):2 * (c1 - sx)]
            for plane, up_plane, mask, rows, cols in (
                    (out.y, up_y, luma_key, slice(2 * r0, 2 * r1), slice(2 * c0, 2 * c1)),
                    (out.u, up_u, key, slice(r0, r1), slice(c0, c1)),
                    (out.v, up_v, key, slice(r0, r1), slice(c0, c1))):
                down_part = plane[rows, cols]
                average = ((down_part.astype(np.uint16) + up_plane + 1) >> 1).astype(np.uint8)
                plane[rows, cols] = np.where(mask, average, down_part)
    if params.crosshair:
        before = params.thickness // 2
        y0 = height // 2 + params.nozzle_y - before
        x0 = width // 2 + params.nozzle_x - before
        rows = (max(y0, 0), min(y0 + params.thickness, height))
        cols = (max(x0, 0), min(x0 + params.thickness, width))
        if rows[0] < rows[1]:
            out.y[rows[0]:rows[1], :] = params.crosshair_y
            out.u[rows[0] // 2:(rows[1] + 1) // 2, :] = params.crosshair_u
            out.v[rows[0] // 2:(rows[1] + 1) // 2, :] = params.crosshair_v
        if cols[0] < cols[1]:
            out.y[:, cols[0]:cols[1]] = params.crosshair_y
            out.u[:, cols[0] // 2:(cols[1] + 1) // 2] = params.crosshair_u
            out.v[:, cols[0] // 2:(cols[1] + 1) // 2] = params.crosshair_v
