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

"""Independent references for the centroid engine tests: numpy keying and OpenCV labelling."""

from __future__ import annotations

import cv2
import numpy as np

from picam_ros.centroids.engine import CENTROID_DTYPE, KeyingParams


def upsample_chroma(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    """Full-resolution view of a 4:2:0 chroma plane: pixel (x, y) takes sample (x//2, y//2)."""
    return np.repeat(np.repeat(plane, 2, axis=0), 2, axis=1)[:height, :width]


def reference_key(luma: np.ndarray, params: KeyingParams, u: np.ndarray | None = None,
                  v: np.ndarray | None = None, uv: np.ndarray | None = None,
                  uv_order: str = 'vu') -> np.ndarray:
    """Compute the key as a bool image, the obvious way with numpy."""
    height, width = luma.shape
    if uv is not None:
        first, second = uv[:, 0::2], uv[:, 1::2]
        u, v = (first, second) if uv_order == 'uv' else (second, first)
    keyed = (luma >= params.luma_min) & (luma <= params.luma_max)
    for plane, low, high in ((u, params.u_min, params.u_max), (v, params.v_min, params.v_max)):
        if low is None and high is None:
            continue
        full = upsample_chroma(plane, height, width)
        keyed &= (full >= (low or 0)) & (full <= (255 if high is None else high))
    if params.invert:
        keyed = ~keyed
    inside = np.zeros_like(keyed)
    x, y, w, h = params.roi or (0, 0, width, height)
    inside[y:y + h, x:x + w] = True
    return keyed & inside


def opencv_ellipse(blob_mask: np.ndarray) -> tuple[float, ...]:
    """(mu20, mu11, mu02, orientation, major, minor) of one blob's mask by ``cv2.moments``."""
    moments = cv2.moments(blob_mask.astype(np.uint8), binaryImage=True)
    mu20, mu11, mu02, area = moments['mu20'], moments['mu11'], moments['mu02'], moments['m00']
    half_sum, radius = (mu20 + mu02) / 2, np.hypot((mu20 - mu02) / 2, mu11)
    return (mu20, mu11, mu02, 0.5 * np.arctan2(2 * mu11, mu20 - mu02),
            4 * np.sqrt((half_sum + radius) / area), 4 * np.sqrt(max(half_sum - radius, 0) / area))


def assert_same_ellipses(ours: np.ndarray, expected: np.ndarray) -> None:
    """Central moments to 1e-9 of the blob's moment scale; the ellipse to float32 precision.

    The orientation is compared (modulo pi) only where the blob is measurably elongated: for a
    blob whose moments are isotropic it is undefined, and a rounding error decides it.
    """
    scale = np.maximum(np.abs(expected['mu20']) + np.abs(expected['mu02']), 1.0)
    for name in ('mu20', 'mu11', 'mu02'):
        error = np.abs(ours[name] - expected[name])
        assert np.all(error <= 1e-9 * scale), (name, np.max(error / scale, initial=0))
    for name in ('major_axis', 'minor_axis'):
        np.testing.assert_allclose(ours[name], expected[name], rtol=1e-5, atol=1e-4,
                                   err_msg=name)
    anisotropy = np.hypot(expected['mu20'] - expected['mu02'], 2 * expected['mu11'])
    defined = anisotropy > 1e-6 * scale
    turn = np.angle(np.exp(2j * (ours['orientation'][defined].astype(np.float64) -
                                 expected['orientation'][defined])))
    np.testing.assert_allclose(turn, 0.0, atol=1e-5, err_msg='orientation')


def reference_blobs(keyed: np.ndarray, params: KeyingParams,
                    luma: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Blobs of a key image per the engine contract, measured by connectedComponentsWithStats."""
    height, width = keyed.shape
    x0, y0, w, h = params.roi or (0, 0, width, height)
    region = np.ascontiguousarray(keyed[y0:y0 + h, x0:x0 + w], dtype=np.uint8)
    # Wu's (SAUF) algorithm explicitly: the default 4-connectivity one of OpenCV 4.5.5 (still
    # shipped in some distros and wheels) crashes (opencv/opencv#21366). Stats do not depend on
    # the algorithm.
    count, labels, stats, centroids = cv2.connectedComponentsWithStatsWithAlgorithm(
        region, params.connectivity, cv2.CV_32S, cv2.CCL_WU)
    present, first_index = np.unique(labels.ravel(), return_index=True)
    first_pixel = np.zeros(count, np.int64)  # raster index of each label's first pixel
    first_pixel[present] = first_index
    luma_region = None if luma is None else luma[y0:y0 + h, x0:x0 + w]
    luma_sums = (np.zeros(count) if luma_region is None else
                 np.bincount(labels.ravel(), weights=luma_region.ravel().astype(np.float64),
                             minlength=count))
    rows = []
    for label in range(1, count):
        bx, by, bw, bh, area = (int(value) for value in stats[label])
        if area < params.min_area or (params.max_area and area > params.max_area):
            continue
        touches = bx == 0 or by == 0 or bx + bw == w or by + bh == h
        rows.append(((-area, int(first_pixel[label])), (
            centroids[label][0] + x0, centroids[label][1] + y0, area, bx + x0, by + y0, bw, bh,
            touches, luma_sums[label] / area,
            *opencv_ellipse(labels[by:by + bh, bx:bx + bw] == label))))
    rows.sort(key=lambda row: row[0])
    kept = rows[:params.max_centroids]
    blobs = np.array([record for _, record in kept], dtype=CENTROID_DTYPE)
    return blobs, len(rows) - len(kept)


def assert_same_blobs(ours: np.ndarray, expected: np.ndarray, check_luma: bool = True) -> None:
    """Areas, boxes, flags and order exactly; centroids to 1e-9; mean luma to float32."""
    assert ours.dtype == CENTROID_DTYPE
    assert len(ours) == len(expected)
    for name in ('area', 'bbox_x', 'bbox_y', 'bbox_w', 'bbox_h', 'touches_border'):
        np.testing.assert_array_equal(ours[name], expected[name], err_msg=name)
    np.testing.assert_allclose(ours['x'], expected['x'], rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours['y'], expected['y'], rtol=0, atol=1e-9)
    if check_luma:
        np.testing.assert_allclose(ours['mean_luma'], expected['mean_luma'], rtol=1e-6)
    assert_same_ellipses(ours, expected)
