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


#: Cells (blobs x window pixels) measured at once: windows are batched by size.
_BATCH_CELLS = 1_000_000


def _grow(mask: np.ndarray) -> np.ndarray:
    """Return the 8-connected dilation of `mask` by one pixel in its last two axes."""
    rows = mask.copy()
    rows[..., 1:, :] |= mask[..., :-1, :]
    rows[..., :-1, :] |= mask[..., 1:, :]
    out = rows.copy()
    out[..., 1:] |= rows[..., :-1]
    out[..., :-1] |= rows[..., 1:]
    return out


def _nearby_min(values: np.ndarray) -> np.ndarray:
    """Return the minimum of each pixel's 5x5 neighbourhood in the last two axes (inf outside)."""
    h, w = values.shape[-2:]
    pad = [(0, 0)] * (values.ndim - 2)
    padded = np.pad(values, [*pad, (2, 2), (0, 0)], constant_values=np.inf)
    rows = np.minimum.reduce([padded[..., d:d + h, :] for d in range(5)])
    padded = np.pad(rows, [*pad, (0, 0), (2, 2)], constant_values=np.inf)
    return np.minimum.reduce([padded[..., d:d + w] for d in range(5)])


def _chroma_pass(plane: np.ndarray | None, low: int | None, high: int | None,
                 rows: np.ndarray, cols: np.ndarray) -> np.ndarray | bool:
    """Return whether each window pixel passes one chroma gate (half-resolution plane)."""
    if plane is None or (low is None and high is None):
        return True
    values = plane[rows[:, :, None] // 2, cols[:, None, :] // 2]
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
    engine's centroid. Blobs are measured in batches of windows of similar size.
    """
    out = np.column_stack([blobs['x'], blobs['y']]).astype(np.float64)
    if not len(blobs):
        return out
    sides = (blobs['bbox_w'].astype(np.int64) + 4) * (blobs['bbox_h'].astype(np.int64) + 4)
    order = np.argsort(sides, kind='stable')
    start = 0
    while start < len(order):
        stop = start + 1
        # Windows of similar size together (at most twice the smallest's cells): a batch is
        # as large as its largest window, and the others' padding is wasted work.
        while (stop < len(order) and sides[order[stop]] <= 2 * sides[order[start]] and
               (stop + 1 - start) * sides[order[stop]] <= _BATCH_CELLS):
            stop += 1
        chosen = order[start:stop]
        out[chosen] = _measure_batch(luma, blobs[chosen], keying, u, v, out[chosen])
        start = stop
    return out


def _masked_median(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Return the median of each blob's masked pixels (nan for none): one sort, no loop."""
    flat = np.sort(np.where(mask, values, np.inf).reshape(len(values), -1), axis=1)
    count = mask.reshape(len(values), -1).sum(axis=1)
    low = np.maximum((count - 1) // 2, 0)[:, None]
    high = np.maximum(count // 2, 0)[:, None]
    middle = (np.take_along_axis(flat, low, 1) + np.take_along_axis(flat, high, 1))[:, 0] / 2
    return np.where(count > 0, middle, np.nan)


def _measure_batch(luma: np.ndarray, blobs: np.ndarray, keying: KeyingParams,
                   u: np.ndarray | None, v: np.ndarray | None,
                   engine: np.ndarray) -> np.ndarray:
    height, width = luma.shape
    bx, by = blobs['bbox_x'].astype(np.int64), blobs['bbox_y'].astype(np.int64)
    bw, bh = blobs['bbox_w'].astype(np.int64), blobs['bbox_h'].astype(np.int64)
    x0, y0 = np.maximum(bx - 2, 0), np.maximum(by - 2, 0)
    x1, y1 = np.minimum(bx + bw + 2, width), np.minimum(by + bh + 2, height)
    h, w = int((y1 - y0).max()), int((x1 - x0).max())
    rows = y0[:, None] + np.arange(h)[None, :]                       # (N, h)
    cols = x0[:, None] + np.arange(w)[None, :]                       # (N, w)
    valid = (rows < y1[:, None])[:, :, None] & (cols < x1[:, None])[:, None, :]
    rows, cols = np.minimum(rows, height - 1), np.minimum(cols, width - 1)
    window = luma[rows[:, :, None], cols[:, None, :]].astype(np.float64)   # (N, h, w)
    bright = (window >= keying.luma_min) & valid
    keyed = (bright & _chroma_pass(u, keying.u_min, keying.u_max, rows, cols) &
             _chroma_pass(v, keying.v_min, keying.v_max, rows, cols))
    in_box = (((rows >= by[:, None]) & (rows < (by + bh)[:, None]))[:, :, None] &
              ((cols >= bx[:, None]) & (cols < (bx + bw)[:, None]))[:, None, :])
    own = keyed & in_box
    foreign = _grow(bright & ~keyed)
    grown = _grow(own)
    near = grown & ~(foreign & ~own) & valid
    around = _grow(grown) & ~grown & ~foreign & valid
    inner = own & ~_grow(~own & valid)
    has_ring = around.any(axis=(1, 2))
    has_inner = inner.any(axis=(1, 2))
    background = _masked_median(window, around)
    level = _masked_median(window, np.where(has_inner[:, None, None], inner, own))
    usable = has_ring & (level > background)
    background = np.where(usable, background, 0.0)[:, None, None]
    level = np.where(usable, level, 1.0)[:, None, None]
    # Each pixel's background is the darkest of the ring two out within 2 px of it: a trace
    # running into a pad, or a brighter patch of board, is background there too.
    local = _nearby_min(np.where(around, window, np.inf))
    local = np.where(np.isfinite(local), local, background)
    local = np.minimum(local, level - 1.0)
    share = (window - local) / (level - local)
    weights = np.where(near, np.maximum(share, 0.0), 0.0)
    total = weights.sum(axis=(1, 2))
    usable &= total > 0
    safe = np.where(usable, total, 1.0)
    x = np.einsum('nw,nw->n', weights.sum(axis=1), cols.astype(np.float64)) / safe
    y = np.einsum('nh,nh->n', weights.sum(axis=2), rows.astype(np.float64)) / safe
    return np.where(usable[:, None], np.column_stack([x, y]), engine)
