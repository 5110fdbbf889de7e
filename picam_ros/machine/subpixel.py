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

"""Sub-pixel blob positions from the edge pixels the key cuts off.

The engine's centroid is the mean of the keyed pixels: a pixel is in or out, so a lead's
position is quantised by its outline. On the synthetic part (0.02 mm/px, 8-24 leads) that alone
put the leads' mask centroids up to 0.49 px off their centres and the fitted rotation 0.053
degrees off at p99, whatever the fit. A sensor integrates light over each pixel, so an edge
pixel's luma says how much of it the lead covers; the key throws that away.

:func:`edge_weighted_centres` gives it back: per blob, the centroid of light above the
background over the keyed pixels and the one-pixel ring around them (where partly covered
pixels below the key threshold lie), each pixel weighted by ``(luma - background) / (level -
background)``: the covered share. A pixel's background is the darkest pixel two out from the
blob within 2 px of it (a trace running into a pad is background there, not a share of the
pad), the blob's level the median of its interior. Weights below 0 are 0, so a darker
neighbour does not push the position; weights are not capped at 1, so the noise of
full pixels stays unbiased. For pixel-sized edges (no light in the ring) the result is the
engine's centroid up to noise.

The ring must be the blob's own: blobs closer than 3 px apart share edge pixels (the
synthetic scenes keep shapes at least 3 px apart).
"""

from __future__ import annotations

import numpy as np

from picam_ros.centroids.engine import KeyingParams

__all__ = ['edge_weighted_centres']


def _grow(mask: np.ndarray) -> np.ndarray:
    """Return the 8-connected dilation of `mask` by one pixel (same shape; separable)."""
    rows = mask.copy()
    rows[1:] |= mask[:-1]
    rows[:-1] |= mask[1:]
    out = rows.copy()
    out[:, 1:] |= rows[:, :-1]
    out[:, :-1] |= rows[:, 1:]
    return out


def _nearby_min(values: np.ndarray) -> np.ndarray:
    """Return the minimum of each pixel's 5x5 neighbourhood (inf outside; separable)."""
    h, w = values.shape
    padded = np.pad(values, ((2, 2), (0, 0)), constant_values=np.inf)
    rows = np.minimum.reduce([padded[d:d + h] for d in range(5)])
    padded = np.pad(rows, ((0, 0), (2, 2)), constant_values=np.inf)
    return np.minimum.reduce([padded[:, d:d + w] for d in range(5)])


def _chroma_pass(plane: np.ndarray | None, low: int | None, high: int | None,
                 y0: int, y1: int, x0: int, x1: int) -> np.ndarray | bool:
    """Return whether each pixel of a window passes one chroma gate (half-resolution plane)."""
    if plane is None or (low is None and high is None):
        return True
    rows, cols = np.arange(y0, y1) // 2, np.arange(x0, x1) // 2
    values = plane[rows[:, None], cols[None, :]]
    ok = np.ones(values.shape, bool)
    if low is not None:
        ok &= values >= low
    if high is not None:
        ok &= values <= high
    return ok


def edge_weighted_centres(luma: np.ndarray, blobs: np.ndarray, keying: KeyingParams,
                          u: np.ndarray | None = None,
                          v: np.ndarray | None = None) -> np.ndarray:
    """Return (N, 2) sub-pixel positions (x, y) of the engine's `blobs` in the `luma` plane.

    `keying` is the key the blobs were found with (its luma threshold and chroma gates; `u`,
    `v` the half-resolution planes when it gates chroma): a blob's own pixels are the keyed
    pixels of its box. Bright pixels the chroma gate rejects (the nozzle beside a lead) are
    neither the blob's edge nor its background. A blob whose weights vanish keeps the
    engine's centroid.
    """
    out = np.column_stack([blobs['x'], blobs['y']]).astype(np.float64)
    height, width = luma.shape
    for k, blob in enumerate(blobs):
        bx, by = int(blob['bbox_x']), int(blob['bbox_y'])
        bw, bh = int(blob['bbox_w']), int(blob['bbox_h'])
        x0, y0 = max(bx - 2, 0), max(by - 2, 0)
        x1, y1 = min(bx + bw + 2, width), min(by + bh + 2, height)
        window = luma[y0:y1, x0:x1].astype(np.float64)
        bright = window >= keying.luma_min
        keyed = (bright & _chroma_pass(u, keying.u_min, keying.u_max, y0, y1, x0, x1) &
                 _chroma_pass(v, keying.v_min, keying.v_max, y0, y1, x0, x1))
        own = np.zeros(window.shape, bool)
        box = np.s_[by - y0:by - y0 + bh, bx - x0:bx - x0 + bw]
        own[box] = keyed[box]
        foreign = _grow(bright & ~keyed)
        grown = _grow(own)
        near = grown & ~(foreign & ~own)
        around = _grow(grown) & ~grown & ~foreign
        inner = own & ~_grow(~own)
        if not around.any():
            continue
        background = float(np.median(window[around]))
        level = float(np.median(window[inner] if inner.any() else window[own]))
        if level <= background:
            continue
        # Each pixel's background is the darkest of the ring two out within 2 px of it: a
        # trace running into a pad, or a brighter patch of board, is background there too.
        local = _nearby_min(np.where(around, window, np.inf))
        local = np.where(np.isfinite(local), local, background)
        local = np.minimum(local, level - 1.0)
        share = (window - local) / (level - local)
        weights = np.where(near, np.maximum(share, 0.0), 0.0)
        total = weights.sum()
        if total <= 0:
            continue
        out[k] = (float(weights.sum(axis=0) @ np.arange(x0, x1)) / total,
                  float(weights.sum(axis=1) @ np.arange(y0, y1)) / total)
    return out
