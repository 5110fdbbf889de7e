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

"""The composite kernel equals its NumPy statement on any frames, offsets, sizes and strides."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest

from picam_ros import _centroids
from picam_ros.core.frames import Frame, FrameFormat
from picam_ros.machine.composite import (
    COMPOSITE_MODES,
    composite_numpy,
    CompositeParams,
    Compositor,
    I420Planes,
)


def padded(rng: np.random.Generator, shape: tuple[int, int], pad: int) -> np.ndarray:
    """Return a (rows, cols) view into rows `pad` bytes longer, the padding filled with noise."""
    store = rng.integers(0, 256, (shape[0], shape[1] + pad), dtype=np.uint8)
    return store[:, :shape[1]]


def random_frame(rng: np.random.Generator, height: int, width: int, pad: int) -> I420Planes:
    # Chroma around the key thresholds so both outcomes are frequent.
    y = padded(rng, (height, width), pad)
    u = padded(rng, (height // 2, width // 2), pad // 2)
    v = padded(rng, (height // 2, width // 2), pad // 2)
    u[...] = rng.integers(100, 200, u.shape)
    v[...] = rng.integers(40, 140, v.shape)
    return I420Planes(y, u, v)


def empty_like(frame: I420Planes, rng: np.random.Generator, pad: int) -> I420Planes:
    return I420Planes(*(padded(rng, plane.shape, pad) for plane in frame))


even = st.integers(1, 45).map(lambda half: 2 * half)  # 2..90: rarely a multiple of 16


@st.composite
def params_for(draw, height: int, width: int) -> CompositeParams:
    reach_x, reach_y = width + 8, height + 8  # far enough to push the window fully off
    return CompositeParams(
        mode=draw(st.sampled_from(['normal', 'normal', 'onlyup', 'onlydown'])),
        offset_x=2 * draw(st.integers(-reach_x // 2, reach_x // 2)),
        offset_y=2 * draw(st.integers(-reach_y // 2, reach_y // 2)),
        u_max=draw(st.integers(100, 200)), v_min=draw(st.integers(40, 140)),
        crosshair=draw(st.booleans()),
        nozzle_x=draw(st.integers(-width, width)), nozzle_y=draw(st.integers(-height, height)),
        thickness=draw(st.integers(1, 6)),
        crosshair_y=draw(st.integers(0, 255)), crosshair_u=draw(st.integers(0, 255)),
        crosshair_v=draw(st.integers(0, 255)))


def native_into(down, up, params, out):
    _centroids.composite_i420(
        *down, *up, *out, COMPOSITE_MODES[params.mode], params.offset_x, params.offset_y,
        params.u_max, params.v_min, params.crosshair, params.nozzle_x, params.nozzle_y,
        params.thickness, params.crosshair_y, params.crosshair_u, params.crosshair_v)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), height=even, width=even, seed=st.integers(0, 2**32 - 1),
       pads=st.tuples(st.sampled_from([0, 2, 6, 32]), st.sampled_from([0, 4, 10])))
def test_kernel_equals_numpy_on_random_frames_offsets_sizes_and_strides(
        data, height, width, seed, pads):
    rng = np.random.default_rng(seed)
    down = random_frame(rng, height, width, pads[0])
    up = random_frame(rng, height, width, pads[1])
    params = data.draw(params_for(height, width))
    ours = empty_like(down, rng, pads[1])
    native_into(down, up, params, ours)
    expected = I420Planes(*(np.empty(plane.shape, np.uint8) for plane in down))
    composite_numpy(down, up, params, expected)
    for name, mine, theirs in zip('yuv', ours, expected):
        np.testing.assert_array_equal(mine, theirs, err_msg=name)


def uniform(height: int, width: int, y: int, u: int, v: int) -> I420Planes:
    return I420Planes(np.full((height, width), y, np.uint8),
                      np.full((height // 2, width // 2), u, np.uint8),
                      np.full((height // 2, width // 2), v, np.uint8))


NO_CROSS = CompositeParams(crosshair=False)


def test_keyed_up_pixels_blend_half_and_half_into_the_central_half_window_only():
    down, up = uniform(8, 8, 100, 128, 128), uniform(8, 8, 201, 140, 100)  # keyed everywhere
    out = Compositor(NO_CROSS).compose(down, up)
    expected = np.full((8, 8), 100, np.uint8)
    expected[2:6, 2:6] = 151  # (100 + 201 + 1) >> 1
    np.testing.assert_array_equal(out.y, expected)
    assert out.u[1:3, 1:3].tolist() == [[134, 134], [134, 134]] and out.u[0, 0] == 128


def test_a_failed_key_leaves_only_its_own_block_and_the_rest_of_the_column_still_blends():
    # The original loop's `break` skipped the rest of a column after the first failure.
    down, up = uniform(16, 16, 0, 128, 128), uniform(16, 16, 200, 140, 100)
    up.u[4, 4] = 250  # block (4, 4) fails U <= 150: luma rows/cols 8..9
    out = Compositor(NO_CROSS).compose(down, up)
    assert out.y[8:10, 8:10].tolist() == [[0, 0], [0, 0]]
    assert (out.y[10:12, 8:10] == 100).all() and (out.y[4:8, 8:10] == 100).all()


def test_window_rows_follow_the_height_on_a_wide_frame():
    # The original loop bounded rows by the width; on a 32x8 frame that overruns.
    down, up = uniform(8, 32, 0, 128, 128), uniform(8, 32, 200, 140, 100)
    out = Compositor(NO_CROSS).compose(down, up)
    blended_rows = np.flatnonzero((out.y == 100).any(axis=1))
    assert blended_rows.tolist() == [2, 3, 4, 5]


def test_offset_moves_the_window_and_one_pushed_off_the_frame_leaves_the_down_frame():
    down, up = uniform(16, 16, 0, 128, 128), uniform(16, 16, 200, 140, 100)
    moved = Compositor(NO_CROSS.replace(offset_x=4, offset_y=-2)).compose(down, up)
    rows, cols = np.nonzero(moved.y)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (2, 9, 8, 15)
    gone = Compositor(NO_CROSS.replace(offset_x=40)).compose(down, up)
    assert not gone.y.any()


def test_crosshair_crosses_the_frame_at_the_nozzle_offset():
    params = CompositeParams(mode='onlydown', nozzle_x=3, nozzle_y=-2, thickness=1,
                             crosshair_y=255, crosshair_u=10, crosshair_v=20)
    out = Compositor(params).compose(uniform(16, 16, 0, 128, 128), uniform(16, 16, 0, 128, 128))
    assert np.flatnonzero(out.y.all(axis=1)).tolist() == [6]
    assert np.flatnonzero(out.y.all(axis=0)).tolist() == [11]
    assert out.u[3, 0] == 10 and out.v[0, 5] == 20 and out.u[0, 0] == 128


@pytest.mark.parametrize('mode, luma', [('onlyup', 7), ('onlydown', 3)])
def test_only_modes_show_one_camera(mode, luma):
    out = Compositor(NO_CROSS.replace(mode=mode)).compose(uniform(8, 8, 3, 128, 128),
                                                          uniform(8, 8, 7, 140, 100))
    assert (out.y == luma).all()


def test_frozen_output_keeps_the_last_frame_and_its_buffer():
    compositor = Compositor(NO_CROSS)
    first = compositor.compose(uniform(8, 8, 10, 128, 128), uniform(8, 8, 10, 200, 200))
    compositor.params = compositor.params.replace(mode='frozen')
    held = compositor.compose(uniform(8, 8, 99, 128, 128), uniform(8, 8, 99, 200, 200))
    assert held.y is first.y and (held.y == 10).all()


def test_frozen_from_start_up_composes_the_first_pair_to_have_something_to_hold():
    compositor = Compositor(CompositeParams(mode='frozen', crosshair=False))
    out = compositor.compose(uniform(8, 8, 0, 128, 128), uniform(8, 8, 200, 140, 100))
    assert out.y[4, 4] == 100 and out.y[0, 0] == 0


def test_output_buffer_is_one_packed_i420_frame_reused_across_calls():
    compositor = Compositor(NO_CROSS)
    frame = Frame(FrameFormat(16, 8, 'i420'))
    frame.data[...] = 50
    first = compositor.compose(frame, frame)
    packed = compositor.output
    assert packed.shape == (16 * 8 * 3 // 2,)
    assert np.shares_memory(first.y, packed) and np.shares_memory(first.v, packed)
    assert compositor.compose(frame, frame).y is first.y


@pytest.mark.parametrize('change, message', [
    ({'offset_x': 3}, 'offset_x: 3 must be even'),
    ({'mode': 'paused'}, "mode: 'paused' is not one of normal, onlyup"),
    ({'u_max': 300}, 'u_max: 300 is above the maximum 255'),
    ({'thickness': 0}, 'thickness: 0 is below the minimum 1'),
    ({'crosshair': 1}, 'crosshair: must be true or false'),
])
def test_bad_parameters_are_named_in_one_line(change, message):
    with pytest.raises(ValueError, match=message):
        CompositeParams().replace(**change)


def test_frames_of_different_sizes_are_refused():
    with pytest.raises(ValueError, match='differs from the down frame'):
        Compositor().compose(uniform(8, 8, 0, 0, 0), uniform(8, 10, 0, 0, 0))


def test_kernel_refuses_an_output_that_overlaps_an_input_and_odd_sizes():
    frame = uniform(8, 8, 0, 0, 0)
    with pytest.raises(ValueError, match='out.y: overlaps down.y'):
        native_into(frame, uniform(8, 8, 0, 0, 0), NO_CROSS, I420Planes(frame.y, *frame[1:]))
    odd = I420Planes(np.zeros((7, 8), np.uint8), np.zeros((3, 4), np.uint8),
                     np.zeros((3, 4), np.uint8))
    with pytest.raises(ValueError, match='must be even'):
        native_into(odd, odd, NO_CROSS, odd)
