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

"""The centroid engine finds exactly the blobs OpenCV finds on the same key, whatever the shape."""

from __future__ import annotations

import threading

from centroids_fixtures import assert_same_blobs, reference_blobs, reference_key
from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest

from picam_ros.centroids.engine import (
    CENTROID_DTYPE,
    find_centroids,
    find_centroids_in_frame,
    key_mask,
    KeyingParams,
)
from picam_ros.core.frames import Frame, FrameFormat

MASK = KeyingParams(luma_min=128, luma_max=255, max_centroids=1_000_000)


def random_mask(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Noise at a random scale: from salt to large blocky blobs with holes, bays and bridges."""
    scale = int(rng.choice([1, 1, 2, 3, 5, 9]))
    density = rng.uniform(0.05, 0.95)
    coarse = rng.random((height // scale + 1, width // scale + 1)) < density
    mask = np.repeat(np.repeat(coarse, scale, axis=0), scale, axis=1)[:height, :width]
    if rng.random() < 0.5:
        mask = mask ^ (rng.random((height, width)) < 0.02)
    return mask


def as_luma(mask: np.ndarray) -> np.ndarray:
    return np.where(mask, 255, 0).astype(np.uint8)


def blobs_of(mask: np.ndarray, params: KeyingParams = MASK) -> np.ndarray:
    result = find_centroids(as_luma(mask), params)
    assert result.dropped == 0
    return result.blobs


# Widths up to 200 make runs start, end and cross the scanner's 64-pixel block boundaries.
shapes = st.tuples(st.integers(1, 48), st.integers(1, 200))
seeds = st.integers(0, 2**32 - 1)
connectivities = st.sampled_from([4, 8])


@settings(max_examples=150, deadline=None)
@given(shape=shapes, seed=seeds, connectivity=connectivities)
def test_blobs_equal_opencv_on_random_masks(shape, seed, connectivity):
    mask = random_mask(np.random.default_rng(seed), *shape)
    params = MASK.replace(connectivity=connectivity)
    luma = as_luma(mask)
    expected, _ = reference_blobs(mask, params, luma)
    assert_same_blobs(find_centroids(luma, params).blobs, expected)


@st.composite
def keying_params(draw, height: int, width: int, chroma: bool) -> KeyingParams:
    lo, hi = sorted(draw(st.lists(st.integers(0, 255), min_size=2, max_size=2)))
    gates = {}
    if chroma:
        for name in ('u', 'v'):
            bounds = sorted(draw(st.lists(st.integers(0, 255), min_size=2, max_size=2)))
            gates[f'{name}_min'] = draw(st.sampled_from([None, bounds[0]]))
            gates[f'{name}_max'] = draw(st.sampled_from([None, bounds[1]]))
    roi = None
    if draw(st.booleans()):
        x, y = draw(st.integers(0, width - 1)), draw(st.integers(0, height - 1))
        roi = (x, y, draw(st.integers(1, width - x)), draw(st.integers(1, height - y)))
    min_area = draw(st.integers(1, 6))
    max_area = draw(st.sampled_from([0, min_area, min_area + draw(st.integers(0, 40))]))
    return KeyingParams(
        luma_min=lo, luma_max=hi, **gates, invert=draw(st.booleans()), roi=roi,
        connectivity=draw(connectivities), min_area=min_area, max_area=max_area,
        max_centroids=draw(st.integers(1, 60)))


def random_frame(rng: np.random.Generator, height: int, width: int):
    """Smooth-ish luma and chroma (so ranges produce blobs, not only salt) plus some noise."""
    def plane(rows: int, cols: int) -> np.ndarray:
        coarse = rng.integers(0, 256, (rows // 3 + 2, cols // 3 + 2))
        smooth = np.repeat(np.repeat(coarse, 3, axis=0), 3, axis=1)[:rows, :cols]
        return np.clip(smooth + rng.integers(-20, 21, (rows, cols)), 0, 255).astype(np.uint8)
    chroma_rows, chroma_cols = (height + 1) // 2, (width + 1) // 2
    return (plane(height, width), plane(chroma_rows, chroma_cols),
            plane(chroma_rows, chroma_cols))


@settings(max_examples=120, deadline=None)
@given(data=st.data(), shape=shapes, seed=seeds)
def test_blobs_equal_opencv_on_random_i420_frames_with_random_keying(data, shape, seed):
    luma, u, v = random_frame(np.random.default_rng(seed), *shape)
    params = data.draw(keying_params(*shape, chroma=data.draw(st.booleans())))
    keyed = reference_key(luma, params, u=u, v=v)
    np.testing.assert_array_equal(key_mask(luma, params, u=u, v=v), np.where(keyed, 255, 0))
    expected, dropped = reference_blobs(keyed, params, luma)
    result = find_centroids(luma, params, u=u, v=v)
    assert_same_blobs(result.blobs, expected)
    assert result.dropped == dropped


@settings(max_examples=60, deadline=None)
@given(data=st.data(), shape=shapes, seed=seeds, uv_order=st.sampled_from(['uv', 'vu']))
def test_interleaved_chroma_keys_like_the_planar_planes_it_interleaves(data, shape, seed,
                                                                       uv_order):
    luma, u, v = random_frame(np.random.default_rng(seed), *shape)
    params = data.draw(keying_params(*shape, chroma=True))
    pairs = np.stack([u, v] if uv_order == 'uv' else [v, u], axis=-1)
    uv = pairs.reshape(u.shape[0], 2 * u.shape[1])
    np.testing.assert_array_equal(key_mask(luma, params, uv=uv, uv_order=uv_order),
                                  key_mask(luma, params, u=u, v=v))
    expected = find_centroids(luma, params, u=u, v=v)
    result = find_centroids(luma, params, uv=uv, uv_order=uv_order)
    assert_same_blobs(result.blobs, expected.blobs)
    assert result.dropped == expected.dropped


@settings(max_examples=60, deadline=None)
@given(data=st.data(), shape=shapes, seed=seeds)
def test_strided_and_flipped_views_give_the_blobs_of_their_contiguous_copies(
        data, shape, seed):
    rng = np.random.default_rng(seed)
    height, width = shape
    pad = data.draw(st.integers(0, 70))
    backing = np.zeros((2 * height, width + pad), np.uint8)
    luma = backing[::2, pad // 2:pad // 2 + width]  # row stride 2 * (width + pad), odd offset
    luma[:] = as_luma(random_mask(rng, height, width))
    if data.draw(st.booleans()):
        luma = luma[::-1]  # negative row stride
    params = data.draw(keying_params(height, width, chroma=False))
    expected = find_centroids(np.ascontiguousarray(luma), params)
    result = find_centroids(luma, params)
    assert_same_blobs(result.blobs, expected.blobs)
    assert result.dropped == expected.dropped


def test_rows_repeated_by_a_zero_row_stride_view_are_read_in_place():
    row = np.zeros((1, 100), np.uint8)
    row[0, 10:13] = 255
    row[0, 70] = 255
    stripes = np.broadcast_to(row, (40, 100))  # every row is the same memory
    assert stripes.strides[0] == 0
    found = find_centroids(stripes, KeyingParams()).blobs
    assert list(found['area']) == [120, 40]
    assert list(found['x']) == [11.0, 70.0] and list(found['y']) == [19.5, 19.5]


def test_dark_frame_has_no_blobs():
    result = find_centroids(np.zeros((37, 130), np.uint8), KeyingParams())
    assert result.blobs.dtype == CENTROID_DTYPE
    assert len(result.blobs) == 0
    assert result.dropped == 0


def test_full_frame_is_one_blob_touching_the_border():
    (blob,) = find_centroids(np.full((33, 129), 200, np.uint8), KeyingParams()).blobs
    assert blob['area'] == 33 * 129
    assert (blob['bbox_x'], blob['bbox_y'], blob['bbox_w'], blob['bbox_h']) == (0, 0, 129, 33)
    assert (blob['x'], blob['y']) == (64.0, 16.0)
    assert blob['touches_border']
    assert blob['mean_luma'] == 200.0


def test_centroid_is_the_mean_of_pixel_centres():
    luma = np.zeros((40, 40), np.uint8)
    luma[20:22, 10:12] = 255  # 2x2 square: centre between pixels
    luma[30, 30:33] = 255
    luma[31, 30] = 255        # L shape: x = (30+31+32+30)/4, y = (30*3+31)/4
    square, ell = find_centroids(luma, KeyingParams()).blobs  # equal areas: raster order
    assert (square['x'], square['y']) == (10.5, 20.5)
    assert (ell['x'], ell['y']) == (123 / 4, 121 / 4)
    assert not ell['touches_border']


def test_mean_luma_averages_the_keyed_pixels():
    luma = np.zeros((8, 8), np.uint8)
    luma[2, 2:5] = [150, 200, 250]
    (blob,) = find_centroids(luma, KeyingParams()).blobs
    assert blob['mean_luma'] == pytest.approx(200.0)


@pytest.mark.parametrize('connectivity, blobs', [(4, 8 * 16 // 2), (8, 1)])
def test_checkerboard_is_single_pixels_with_4_connectivity_and_one_blob_with_8(connectivity,
                                                                               blobs):
    board = (np.indices((8, 16)).sum(axis=0) % 2 == 0)
    found = blobs_of(board, MASK.replace(connectivity=connectivity))
    assert len(found) == blobs
    if connectivity == 4:
        assert set(found['area']) == {1}


@pytest.mark.parametrize('shape', [(1, 1), (1, 7), (1, 200), (7, 1), (200, 1), (3, 3), (5, 127)])
@pytest.mark.parametrize('connectivity', [4, 8])
def test_single_rows_single_columns_and_odd_sizes_match_opencv(shape, connectivity):
    rng = np.random.default_rng(sum(shape))
    for density in (0.0, 0.3, 0.7, 1.0):
        mask = rng.random(shape) < density
        params = MASK.replace(connectivity=connectivity)
        expected, _ = reference_blobs(mask, params, as_luma(mask))
        assert_same_blobs(blobs_of(mask, params), expected)


def test_blobs_on_every_border_are_flagged_and_interior_ones_are_not():
    mask = np.zeros((20, 150), bool)
    mask[0, 70:73] = True      # top
    mask[19, 40:42] = True     # bottom
    mask[8:10, 0] = True       # left
    mask[5:7, 149] = True      # right
    mask[10:12, 100:103] = True  # interior
    found = blobs_of(mask)
    flags = {(int(b['bbox_x']), int(b['bbox_y'])): bool(b['touches_border']) for b in found}
    assert flags == {(70, 0): True, (40, 19): True, (0, 8): True, (149, 5): True,
                     (100, 10): False}


def test_border_flag_refers_to_the_roi_edges_and_coordinates_stay_full_frame():
    mask = np.zeros((30, 40), bool)
    mask[10:13, 5:9] = True    # touches the ROI's left edge (x=5)
    mask[18:20, 20:22] = True  # inside
    params = MASK.replace(roi=(5, 8, 30, 16))
    expected, _ = reference_blobs(mask, params, as_luma(mask))
    found = blobs_of(mask, params)
    assert_same_blobs(found, expected)
    borders = [(int(b['bbox_x']), bool(b['touches_border'])) for b in found]
    assert borders == [(5, True), (20, False)]
    assert found[0]['x'] == 6.5 and found[0]['y'] == 11.0


def spiral(size: int) -> np.ndarray:
    """Draw a one-pixel-wide square spiral with one-pixel gaps: one blob ~size^2/2 long."""
    mask = np.zeros((size, size), bool)
    top, left, bottom, right = 0, 0, size - 1, size - 1
    while top <= bottom and left <= right:
        mask[top, left:right + 1] = True
        mask[top:bottom + 1, right] = True
        if bottom - top >= 2:
            mask[bottom, left:right + 1] = True
        if right - left >= 2 and bottom - top >= 4:
            mask[top + 2:bottom + 1, left] = True
            mask[top + 2, left:left + 3] = True
        top, left, bottom, right = top + 2, left + 2, bottom - 2, right - 2
    return mask


@pytest.mark.parametrize('connectivity', [4, 8])
def test_spiral_that_overflows_a_stack_based_fill_matches_opencv(connectivity):
    mask = spiral(301)
    params = MASK.replace(connectivity=connectivity)
    expected, _ = reference_blobs(mask, params, as_luma(mask))
    found = blobs_of(mask, params)
    assert len(expected) == 1
    assert_same_blobs(found, expected)


def test_comb_teeth_joined_on_the_last_row_are_one_blob_whose_first_pixel_is_leftmost():
    # 100 teeth start as separate blobs; the final row merges them all, right to left order
    # of discovery must not matter.
    mask = np.zeros((50, 200), bool)
    mask[:, ::2] = True
    mask[:-1, 0] = False       # the leftmost tooth only appears on the last row
    mask[-1, :] = True
    found = blobs_of(mask)
    assert len(found) == 1
    assert found['area'][0] == mask.sum()
    expected, _ = reference_blobs(mask, MASK, as_luma(mask))
    assert_same_blobs(found, expected)


def test_equal_areas_are_ordered_by_first_pixel_in_raster_order():
    mask = np.zeros((10, 10), bool)
    mask[5, 1:3] = True   # area 2, first pixel (1, 5)
    mask[1, 8] = True
    mask[2, 8] = True     # area 2, first pixel (8, 1): earlier in raster order
    mask[3, 0:2] = True   # area 2, first pixel (0, 3)
    mask[7, 3:6] = True   # area 3
    found = blobs_of(mask)
    assert [(int(b['bbox_x']), int(b['bbox_y'])) for b in found] == [(3, 7), (8, 1), (0, 3),
                                                                     (1, 5)]


def test_cap_keeps_the_largest_blobs_and_counts_the_rest_as_dropped():
    mask = np.zeros((10, 60), bool)
    for i, length in enumerate([3, 9, 1, 5, 7]):
        mask[2 * i, :length] = True
    result = find_centroids(as_luma(mask), MASK.replace(max_centroids=2, min_area=2))
    assert list(result.blobs['area']) == [9, 7]
    assert result.dropped == 2  # 5 and 3; the 1-pixel blob is filtered, not dropped


def test_results_are_independent_arrays_not_reused_scratch():
    first = find_centroids(as_luma(np.eye(5, dtype=bool)), MASK)
    snapshot = first.blobs.copy()
    find_centroids(as_luma(np.ones((9, 9), bool)), MASK)
    np.testing.assert_array_equal(first.blobs, snapshot)


def test_concurrent_calls_from_threads_each_get_their_own_frame_result():
    rng = np.random.default_rng(7)
    frames = [as_luma(random_mask(rng, 120, 160)) for _ in range(4)]
    expected = [find_centroids(f, MASK).blobs for f in frames]
    mismatches = []

    def worker(index: int) -> None:
        for _ in range(30):
            if not np.array_equal(find_centroids(frames[index], MASK).blobs, expected[index]):
                mismatches.append(index)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(frames))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert mismatches == []


def frame_with_layout(layout: str, luma: np.ndarray, u: np.ndarray, v: np.ndarray,
                      stride: int) -> Frame:
    height, width = luma.shape
    frame = Frame(FrameFormat(width, height, layout, stride))
    frame.y[:] = luma
    if layout == 'i420':
        frame.u[:] = u
        frame.v[:] = v
    elif layout != 'mono8':
        pairs = frame.uv.reshape(height // 2, width // 2, 2)
        pairs[..., 0], pairs[..., 1] = (u, v) if layout == 'nv12' else (v, u)
    return frame


@pytest.mark.parametrize('layout', ['i420', 'nv12', 'nv21'])
@pytest.mark.parametrize('stride', [None, 96])
def test_frames_of_every_chroma_layout_and_padded_rows_give_the_plane_results(layout, stride):
    luma, u, v = random_frame(np.random.default_rng(3), 40, 64)
    params = KeyingParams(luma_min=100, u_min=60, u_max=200, v_max=180, connectivity=8)
    frame = frame_with_layout(layout, luma, u, v, stride)
    expected = find_centroids(luma, params, u=u, v=v)
    assert len(expected.blobs) > 0
    result = find_centroids_in_frame(frame, params)
    assert_same_blobs(result.blobs, expected.blobs)


def test_mono8_frame_keys_on_luma_only():
    luma, _, _ = random_frame(np.random.default_rng(4), 30, 50)
    frame = Frame.from_packed(luma, 'mono8')
    params = KeyingParams(luma_min=90, luma_max=200)
    assert_same_blobs(find_centroids_in_frame(frame, params).blobs,
                      find_centroids(luma, params).blobs)


@settings(max_examples=60, deadline=None)
@given(angle=st.floats(-89.0, 89.0), seed=seeds)
def test_a_drawn_ellipse_has_its_orientation_and_axes(angle, seed):
    rng = np.random.default_rng(seed)
    half_major, half_minor = rng.uniform(20, 40), rng.uniform(6, 15)
    yy, xx = np.mgrid[0:120, 0:140]
    dx, dy = xx - 70.3, yy - 60.6
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    inside = ((dx * c + dy * s) / half_major) ** 2 + ((-dx * s + dy * c) / half_minor) ** 2 <= 1
    (blob,) = blobs_of(inside)
    # A digitised ellipse: the angle to a degree or so (pixel rounding), the axes to a pixel or so.
    turn = np.degrees(np.angle(np.exp(2j * (float(blob['orientation']) - np.radians(angle))))) / 2
    assert abs(turn) < 1.5
    assert blob['major_axis'] == pytest.approx(2 * half_major, abs=1.0)
    assert blob['minor_axis'] == pytest.approx(2 * half_minor, abs=1.0)


def test_single_pixel_and_straight_line_blobs_have_exact_zero_moments():
    mask = np.zeros((9, 40), bool)
    mask[1, 1] = True           # one pixel: all central moments 0
    mask[4, 5:35] = True        # horizontal line: mu02 = mu11 = 0, mu20 = sum of (x - mean)^2
    blobs = blobs_of(mask)
    line, pixel = blobs[0], blobs[1]
    assert (pixel['mu20'], pixel['mu11'], pixel['mu02']) == (0.0, 0.0, 0.0)
    assert (line['mu11'], line['mu02']) == (0.0, 0.0)
    assert line['mu20'] == np.sum((np.arange(5, 35) - 19.5) ** 2)
    assert line['orientation'] == 0.0 and line['minor_axis'] == 0.0


def test_moments_stay_exact_far_from_the_origin_of_a_wide_frame():
    # Raw sums of x^2 here exceed 2^53 (doubles would round), the central moments do not.
    width = 300_000
    luma = np.zeros((2, width), np.uint8)
    luma[:, width - 200_000:] = 255
    (blob,) = find_centroids(luma, MASK).blobs
    xs = np.arange(width - 200_000, width, dtype=np.float64)
    expected_mu20 = 2 * np.sum((xs - xs.mean()) ** 2)
    assert blob['mu20'] == pytest.approx(expected_mu20, rel=1e-12)
    assert blob['mu02'] == pytest.approx(200_000 * 2 * 0.25, rel=1e-12)
    assert blob['mu11'] == 0.0
