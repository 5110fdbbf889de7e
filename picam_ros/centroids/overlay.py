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

"""The debug view: a frame's luma with the key mask tinted and a cross on each centroid."""

from __future__ import annotations

import numpy as np


def debug_overlay(luma: np.ndarray, mask: np.ndarray | None, blobs: np.ndarray,
                  out: np.ndarray | None = None, cross_radius: int = 0) -> np.ndarray:
    """Draw a BGR picture for tuning a key: grey frame, keyed pixels green, red crosses.

    ``mask`` is the engine's (H, W) 0/255 key mask (or None); ``out`` an (H, W, 3) uint8 buffer
    to reuse. ``cross_radius`` 0 picks one from the frame size. Drawing is vectorised over blobs.
    """
    height, width = luma.shape
    if out is None or out.shape != (height, width, 3) or out.dtype != np.uint8:
        out = np.empty((height, width, 3), dtype=np.uint8)
    out[..., 0] = luma
    out[..., 2] = luma
    if mask is None:
        out[..., 1] = luma
    else:
        if mask.shape != luma.shape:
            raise ValueError(f'mask shape {mask.shape} differs from the image {luma.shape}')
        np.maximum(luma, mask, out=out[..., 1])
    if blobs.shape[0]:
        radius = cross_radius or max(3, min(height, width) // 160)
        _draw_crosses(out, blobs['x'], blobs['y'], radius)
    return out


def _draw_crosses(image: np.ndarray, xs: np.ndarray, ys: np.ndarray, radius: int) -> None:
    height, width = image.shape[:2]
    cx = np.rint(xs).astype(np.int64)[:, None]
    cy = np.rint(ys).astype(np.int64)[:, None]
    offsets = np.arange(-radius, radius + 1, dtype=np.int64)[None, :]
    red = np.array([0, 0, 255], dtype=np.uint8)
    for row, col in ((np.broadcast_to(cy, (cy.shape[0], offsets.shape[1])), cx + offsets),
                     (cy + offsets, np.broadcast_to(cx, (cx.shape[0], offsets.shape[1])))):
        inside = (row >= 0) & (row < height) & (col >= 0) & (col < width)
        image[row[inside], col[inside]] = red
