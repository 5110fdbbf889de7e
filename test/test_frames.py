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

"""FrameFormat geometry, Frame views and conversions (OpenCV's cvtColor is the colour oracle)."""

import cv2
import numpy as np
import pytest

from picam_ros.core import frames
from picam_ros.core.frames import Frame, FrameFormat


def random_frame(width, height, layout='i420', stride=None, seed=0):
    fmt = FrameFormat(width, height, layout, stride)
    rng = np.random.default_rng(seed)
    return Frame(fmt, rng.integers(0, 256, fmt.frame_bytes, dtype=np.uint8), 5, 6, 7)


def packed_planes(frame):
    """(Y, U, V) as contiguous arrays, read with explicit offsets (independent of the views)."""
    fmt, data = frame.format, frame.data
    w, h, s = fmt.width, fmt.height, fmt.row_stride
    y = data[:s * h].reshape(h, s)[:, :w].copy()
    if fmt.layout == 'i420':
        cs, plane = s // 2, (s // 2) * (h // 2)
        u = data[s * h:s * h + plane].reshape(h // 2, cs)[:, :w // 2].copy()
        v = data[s * h + plane:].reshape(h // 2, cs)[:, :w // 2].copy()
    else:
        uv = data[s * h:].reshape(h // 2, s)[:, :w]
        a, b = uv[:, 0::2].copy(), uv[:, 1::2].copy()
        u, v = (a, b) if fmt.layout == 'nv12' else (b, a)
    return y, u, v


@pytest.mark.parametrize('kwargs, message', [
    ({'width': 641, 'height': 480}, 'even'),
    ({'width': 640, 'height': 481, 'layout': 'nv21'}, 'even'),
    ({'width': 640, 'height': 480, 'stride': 600}, 'stride'),
    ({'width': 640, 'height': 480, 'stride': 641}, 'stride must be even'),
    ({'width': 640, 'height': 480, 'layout': 'yuyv'}, 'layout'),
    ({'width': 0, 'height': 480}, 'width'),
    ({'width': 640, 'height': 10**6}, 'height'),
    ({'width': 640.0, 'height': 480}, 'width must be an integer'),
    ({'width': True, 'height': 480}, 'width must be an integer'),
])
def test_invalid_format_is_rejected_with_a_message_naming_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FrameFormat(**kwargs)


def test_odd_sizes_are_accepted_for_mono8():
    assert FrameFormat(641, 481, 'mono8').frame_bytes == 641 * 481


def test_padded_i420_frame_size_counts_half_stride_chroma_rows():
    # rpicam-apps #188: 780 wide rows are written 832 bytes apart.
    fmt = FrameFormat(780, 438, 'i420', stride=832)
    assert fmt.row_stride == 832
    assert fmt.frame_bytes == 832 * 438 + 2 * 416 * 219
    assert fmt.packed_bytes == 780 * 438 * 3 // 2


def test_nv21_frame_size_uses_full_stride_chroma_rows():
    assert FrameFormat(780, 438, 'nv21', stride=800).frame_bytes == 800 * 438 + 800 * 219


def test_frame_rejects_a_buffer_of_the_wrong_size():
    with pytest.raises(ValueError, match='bytes'):
        Frame(FrameFormat(64, 64), np.zeros(100, np.uint8))


@pytest.mark.parametrize('layout', ['i420', 'nv12', 'nv21'])
def test_plane_views_exclude_row_padding_and_share_the_buffer(layout):
    frame = random_frame(78, 40, layout, stride=96)
    y, u, v = packed_planes(frame)
    assert np.array_equal(frame.y, y)
    got_u, got_v = frame.chroma()
    assert np.array_equal(got_u, u) and np.array_equal(got_v, v)
    frame.y[3, 5] = frame.y[3, 5] ^ 0xFF
    assert frame.data[3 * 96 + 5] == frame.y[3, 5]


def test_planar_and_interleaved_views_exist_only_for_their_layouts():
    i420, nv21 = random_frame(64, 32, 'i420'), random_frame(64, 32, 'nv21')
    assert i420.uv is None and i420.u.shape == (16, 32)
    assert nv21.u is None and nv21.v is None and nv21.uv.shape == (16, 64)


def test_copy_owns_its_buffer_and_keeps_metadata():
    frame = random_frame(32, 16)
    kept = frame.copy()
    frame.data[:] = 0
    assert kept.data.any()
    assert (kept.stamp_ns, kept.mono_ns, kept.sequence) == (5, 6, 7)


@pytest.mark.parametrize('stride', [None, 96])
def test_to_nv21_and_nv12_interleave_chroma_in_their_order(stride):
    frame = random_frame(78, 40, 'i420', stride)
    y, u, v = packed_planes(frame)
    w, h = 78, 40
    nv21, nv12 = frame.to_nv21(), frame.to_nv12()
    assert nv21.shape == (w * h * 3 // 2,)
    assert np.array_equal(nv21[:w * h].reshape(h, w), y)
    assert np.array_equal(nv21[w * h::2].reshape(h // 2, w // 2), v)
    assert np.array_equal(nv21[w * h + 1::2].reshape(h // 2, w // 2), u)
    assert np.array_equal(nv12[w * h::2].reshape(h // 2, w // 2), u)
    assert np.array_equal(nv12[w * h + 1::2].reshape(h // 2, w // 2), v)


@pytest.mark.parametrize('layout', ['i420', 'nv12', 'nv21'])
def test_conversions_round_trip_between_layouts(layout):
    frame = random_frame(64, 48, layout, stride=80)
    i420 = Frame(FrameFormat(64, 48, 'i420'), frame.to_i420())
    assert np.array_equal(Frame(FrameFormat(64, 48, 'nv21'), i420.to_nv21()).to_i420(),
                          i420.data)
    assert np.array_equal(Frame(FrameFormat(64, 48, 'nv12'), frame.to_nv12()).to_nv21(),
                          frame.to_nv21())


def test_to_i420_removes_row_padding():
    frame = random_frame(78, 40, 'i420', stride=96)
    y, u, v = packed_planes(frame)
    assert np.array_equal(frame.to_i420(), np.concatenate([y.ravel(), u.ravel(), v.ravel()]))


def test_to_mono8_is_a_contiguous_copy_of_luma():
    frame = random_frame(78, 40, 'nv21', stride=96)
    mono = frame.to_mono8()
    assert mono.flags.c_contiguous and mono.shape == (40, 78)
    assert np.array_equal(mono, packed_planes(frame)[0])


def test_conversions_fill_the_given_out_buffer_and_return_it():
    frame = random_frame(64, 32, 'i420', stride=96)
    nv21 = np.empty(64 * 32 * 3 // 2, np.uint8)
    mono = np.empty((32, 64), np.uint8)
    bgr = np.empty((32, 64, 3), np.uint8)
    assert frame.to_nv21(nv21) is nv21 and np.array_equal(nv21, frame.to_nv21())
    assert frame.to_mono8(mono) is mono and np.array_equal(mono, frame.y)
    assert frame.to_bgr(bgr) is bgr and np.array_equal(bgr, frame.to_bgr())


def test_out_buffer_of_the_wrong_size_is_rejected():
    frame = random_frame(64, 32)
    with pytest.raises(ValueError, match='out holds'):
        frame.to_nv21(np.empty(10, np.uint8))
    with pytest.raises(ValueError, match='uint8'):
        frame.to_mono8(np.empty((32, 64), np.float32))


@pytest.mark.parametrize('layout, code', [
    ('i420', cv2.COLOR_YUV2BGR_I420),
    ('nv12', cv2.COLOR_YUV2BGR_NV12),
    ('nv21', cv2.COLOR_YUV2BGR_NV21),
])
def test_to_bgr_matches_opencv(layout, code):
    frame = random_frame(96, 64, layout, seed=3)
    expected = cv2.cvtColor(frame.data.reshape(96, 96), code)
    assert np.abs(frame.to_bgr().astype(int) - expected).max() <= 1


def test_to_bgr_of_a_padded_frame_matches_opencv_on_the_packed_frame():
    frame = random_frame(78, 40, 'i420', stride=96, seed=4)
    expected = cv2.cvtColor(frame.to_i420().reshape(60, 78), cv2.COLOR_YUV2BGR_I420)
    assert np.abs(frame.to_bgr().astype(int) - expected).max() <= 1


def test_mono8_frame_converts_to_grey_with_neutral_chroma():
    frame = random_frame(32, 16, 'mono8')
    nv21 = frame.to_nv21()
    assert np.array_equal(nv21[:512].reshape(16, 32), frame.y)
    assert (nv21[512:] == 128).all()
    bgr = frame.to_bgr()
    assert np.array_equal(bgr[..., 0], frame.y) and np.array_equal(bgr[..., 2], frame.y)


def test_from_packed_wraps_an_opencv_style_i420_image():
    image = np.arange(48 * 32, dtype=np.uint8).reshape(48, 32)
    frame = Frame.from_packed(image, 'i420', sequence=3)
    assert frame.format == FrameFormat(32, 32, 'i420') and frame.sequence == 3
    assert np.array_equal(frame.y, image[:32])


@pytest.mark.parametrize('layout, code', [
    ('i420', cv2.COLOR_YUV2BGR_I420),
    ('nv21', cv2.COLOR_YUV2BGR_NV21),
])
def test_numpy_bgr_kernel_is_bit_identical_to_opencv(layout, code):
    frame = random_frame(64, 48, layout, seed=5)
    bgr = np.empty((48, 64, 3), np.uint8)
    frames.yuv420_to_bgr_numpy(frame.y, *frame.chroma(), bgr)
    assert np.array_equal(bgr, cv2.cvtColor(frame.data.reshape(72, 64), code))


@pytest.mark.skipif(frames._native_yuv420_to_bgr is None,
                    reason='C++ conversions not registered in picam_ros._centroids')
@pytest.mark.parametrize('layout, stride', [('i420', None), ('i420', 96), ('nv21', 80),
                                            ('nv12', None)])
def test_native_conversions_equal_the_numpy_ones(layout, stride, monkeypatch):
    frame = random_frame(78, 40, layout, stride, seed=6)
    native = frame.to_bgr(), frame.to_nv21(), frame.to_nv12()
    monkeypatch.setattr(frames, '_native_yuv420_to_bgr', None)
    monkeypatch.setattr(frames, '_native_interleave', None)
    reference = frame.to_bgr(), frame.to_nv21(), frame.to_nv12()
    for got, expected in zip(native, reference, strict=True):
        assert np.array_equal(got, expected)


@pytest.mark.skipif(frames._native_yuv420_to_bgr is None,
                    reason='C++ conversions not registered in picam_ros._centroids')
def test_native_bgr_rejects_a_wrong_output_shape():
    frame = random_frame(64, 48)
    with pytest.raises(ValueError, match=r'out: expected a \(48, 64, 3\) array'):
        frames._native_yuv420_to_bgr(frame.y, frame.u, frame.v, np.empty((4, 4, 3), np.uint8))


@pytest.mark.skipif(frames._native_yuv420_to_bgr is None,
                    reason='C++ conversions not registered in picam_ros._centroids')
def test_native_kernels_refuse_read_only_output_and_other_dtypes():
    frame = random_frame(64, 48)
    read_only = np.empty((48, 64, 3), np.uint8)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match='read-only'):
        frames._native_yuv420_to_bgr(frame.y, frame.u, frame.v, read_only)
    with pytest.raises(ValueError, match='uint8'):
        frames._native_interleave(frame.u.astype(np.int16), frame.v, np.empty(3072, np.uint8))
