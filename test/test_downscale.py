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

"""The operator stream's downscale: each output sample is the rounded mean of its block."""

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest

from picam_ros.core.frames import Frame, FrameFormat
from picam_ros.stream.downscale import downscaler, scaled_format

_centroids = pytest.importorskip('picam_ros._centroids')


def block_mean(plane: np.ndarray, factor: int, rows: int, cols: int) -> np.ndarray:
    """Return the oracle: integer block sums, rounded half up."""
    blocks = plane[:rows * factor, :cols * factor].astype(np.uint32)
    sums = blocks.reshape(rows, factor, cols, factor).sum(axis=(1, 3))
    return ((sums + factor * factor // 2) // (factor * factor)).astype(np.uint8)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(rows=st.integers(1, 40), cols=st.integers(1, 40), factor=st.integers(1, 5),
       step=st.sampled_from([1, 2]), pad=st.integers(0, 9), seed=st.integers(0, 2**32 - 1))
def test_box_downscale_is_the_rounded_block_mean_for_any_layout(
        rows, cols, factor, step, pad, seed):
    rng = np.random.default_rng(seed)
    extra = int(rng.integers(0, factor))   # a remainder that must be left out
    height, width = rows * factor + extra, cols * factor + extra
    storage = rng.integers(0, 256, (height, width * step + pad), dtype=np.uint8)
    plane = storage[:, :width * step:step]   # padded rows, samples 1 or 2 bytes apart
    out = np.full((rows, cols), 7, np.uint8)
    _centroids.box_downscale(plane, out, factor)
    np.testing.assert_array_equal(out, block_mean(plane, factor, rows, cols))


def test_box_downscale_of_the_extremes_rounds_half_up():
    plane = np.array([[0, 255], [255, 255]], np.uint8)   # mean 191.25
    out = np.zeros((1, 1), np.uint8)
    _centroids.box_downscale(plane, out, 2)
    assert out[0, 0] == 191
    _centroids.box_downscale(np.array([[0, 1], [1, 0]], np.uint8), out, 2)   # mean 0.5
    assert out[0, 0] == 1


@pytest.mark.parametrize(('src', 'out', 'factor', 'message'), [
    (np.zeros((8, 8), np.uint8), np.zeros((5, 4), np.uint8), 2, 'does not fit'),
    (np.zeros((8, 8), np.uint8), np.zeros((4, 4), np.uint8), 0, 'factor'),
    (np.zeros((8, 8), np.uint16), np.zeros((4, 4), np.uint8), 2, 'uint8'),
    (np.zeros((8, 8), np.uint8), np.zeros((4, 8), np.uint8)[:, ::2], 2, 'contiguous'),
    (np.zeros(64, np.uint8), np.zeros((4, 4), np.uint8), 2, '2-D'),
])
def test_box_downscale_refuses_buffers_that_do_not_fit_and_names_which(src, out, factor,
                                                                       message):
    with pytest.raises(ValueError, match=message):
        _centroids.box_downscale(src, out, factor)


def test_box_downscale_refuses_a_read_only_output():
    out = np.zeros((4, 4), np.uint8)
    out.flags.writeable = False
    with pytest.raises((ValueError, BufferError)):
        _centroids.box_downscale(np.zeros((8, 8), np.uint8), out, 2)


@pytest.mark.parametrize(('size', 'scale', 'expected'), [
    ((1920, 1920), 2, (960, 960)), ((1920, 1080), 4, (480, 270 - 270 % 2)),
    ((1024, 1024), 1, (1024, 1024)), ((1022, 766), 2, (510, 382)), ((1000, 750), 4, (250, 186)),
])
def test_the_stream_size_is_the_capture_divided_and_rounded_down_to_even(size, scale, expected):
    target = scaled_format(FrameFormat(*size, 'nv21'), scale)
    assert (target.width, target.height) == expected
    assert target.layout == ('nv21' if scale == 1 else 'i420')


def test_a_scale_that_is_not_1_2_or_4_is_refused():
    with pytest.raises(ValueError, match='1, 2, 4'):
        scaled_format(FrameFormat(640, 480), 3)


def i420_planes(frame: Frame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    packed = frame.to_i420()
    w, h = frame.width, frame.height
    return (packed[:w * h].reshape(h, w), packed[w * h:w * h * 5 // 4].reshape(h // 2, w // 2),
            packed[w * h * 5 // 4:].reshape(h // 2, w // 2))


@pytest.mark.parametrize('fmt', [
    FrameFormat(200, 120, 'i420'), FrameFormat(200, 120, 'i420', stride=256),
    FrameFormat(200, 120, 'nv12'), FrameFormat(200, 120, 'nv21'), FrameFormat(200, 120, 'mono8'),
], ids=str)
@pytest.mark.parametrize('scale', [2, 4])
def test_a_frame_of_any_layout_becomes_the_packed_block_means_of_its_planes(fmt, scale):
    rng = np.random.default_rng(scale)
    frame = Frame(fmt, rng.integers(0, 256, fmt.frame_bytes, dtype=np.uint8))
    target = scaled_format(fmt, scale)
    out = np.zeros(target.packed_bytes, np.uint8)
    downscaler(fmt, scale)(frame, out)
    w, h = target.width, target.height
    if fmt.layout == 'mono8':
        np.testing.assert_array_equal(out.reshape(h, w), block_mean(frame.y, scale, h, w))
        return
    y, u, v = i420_planes(frame)
    expected = np.concatenate([block_mean(y, scale, h, w).ravel(),
                               block_mean(u, scale, h // 2, w // 2).ravel(),
                               block_mean(v, scale, h // 2, w // 2).ravel()])
    np.testing.assert_array_equal(out, expected)
