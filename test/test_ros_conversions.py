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

"""Frame <-> message payloads, incoming image planes and the centroid PointCloud2 layout."""

import array

import cv2
import numpy as np
import pytest

from picam_ros.centroids.overlay import debug_overlay
from picam_ros.core.frames import Frame, FrameFormat
from picam_ros.core.payloads import (
    as_message_bytes,
    CLOUD_DTYPE,
    CLOUD_FIELDS,
    cloud_payload,
    cloud_points,
    image_payload,
    image_planes,
    OUTPUT_ENCODINGS,
    POINTFIELD_FLOAT32,
)

BLOB_DTYPE = np.dtype([('x', 'f8'), ('y', 'f8'), ('area', 'u4'), ('bbox_x', 'i4'),
                       ('bbox_y', 'i4'), ('bbox_w', 'i4'), ('bbox_h', 'i4'),
                       ('touches_border', '?'), ('mean_luma', 'f4')])


def natural_bgr(width, height, seed=0):
    """Make a smooth in-gamut colour picture with constant 2x2 blocks (so 4:2:0 loses nothing)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(40, 216, size=(height // 2, width // 2, 3), dtype=np.uint8)
    return np.repeat(np.repeat(small, 2, axis=0), 2, axis=1)


def i420_frame(width=64, height=48, stride=None, seed=0):
    """Make an I420 frame with OpenCV from a colour picture, optionally with padded rows."""
    bgr = natural_bgr(width, height, seed)
    packed = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420).reshape(-1)
    fmt = FrameFormat(width, height, 'i420', stride=stride)
    frame = Frame(fmt)
    frame.y[...] = packed[:width * height].reshape(height, width)
    quarter = (width // 2) * (height // 2)
    frame.u[...] = packed[width * height:width * height + quarter].reshape(height // 2, -1)
    frame.v[...] = packed[width * height + quarter:].reshape(height // 2, -1)
    return frame


@pytest.mark.parametrize('encoding, step_per_px, bytes_per_px', [
    ('nv21', 1, 1.5), ('nv12', 1, 1.5), ('mono8', 1, 1), ('bgr8', 3, 3)])
def test_payload_has_sensor_msgs_geometry(encoding, step_per_px, bytes_per_px):
    frame = i420_frame(64, 48)
    payload = image_payload(frame, encoding)
    assert (payload.encoding, payload.width, payload.height) == (encoding, 64, 48)
    assert payload.step == 64 * step_per_px
    assert len(payload.data) == 64 * 48 * bytes_per_px
    assert isinstance(payload.data, array.array) and payload.data.typecode == 'B'


@pytest.mark.parametrize('encoding, convert', [
    ('nv21', Frame.to_nv21), ('nv12', Frame.to_nv12), ('mono8', Frame.to_mono8),
    ('bgr8', Frame.to_bgr)])
def test_payload_bytes_are_the_frame_conversion_without_row_padding(encoding, convert):
    frame = i420_frame(64, 48, stride=96)
    payload = image_payload(frame, encoding)
    assert bytes(payload.data) == convert(frame).tobytes()


def test_payload_reuses_the_buffer_it_is_given():
    first = image_payload(i420_frame(seed=1), 'nv21')
    second = image_payload(i420_frame(seed=2), 'nv21', out=first.data)
    assert second.data is first.data
    assert bytes(second.data) == i420_frame(seed=2).to_nv21().tobytes()


def test_payload_replaces_a_buffer_of_the_wrong_size():
    stale = array.array('B', bytes(10))
    payload = image_payload(i420_frame(), 'nv21', out=stale)
    assert payload.data is not stale
    assert len(payload.data) == 64 * 48 * 3 // 2


def test_payload_refuses_an_encoding_ros_cannot_carry():
    with pytest.raises(ValueError, match='i420'):
        image_payload(i420_frame(), 'i420')


def test_message_bytes_keep_an_array_and_copy_anything_else_once():
    data = array.array('B', b'abc')
    assert as_message_bytes(data) is data
    for other in (b'abc', bytearray(b'abc'), memoryview(b'abc'), np.frombuffer(b'abc', np.uint8)):
        converted = as_message_bytes(other)
        assert isinstance(converted, array.array) and converted.typecode == 'B'
        assert converted.tobytes() == b'abc'


@pytest.mark.parametrize('encoding', ['nv21', 'nv12'])
def test_semiplanar_planes_are_views_of_the_message_data(encoding):
    frame = i420_frame(64, 48)
    payload = image_payload(frame, encoding)
    planes = image_planes(encoding, payload.height, payload.width, payload.step, payload.data)
    data = np.frombuffer(payload.data, np.uint8)
    assert np.shares_memory(planes.luma, data) and np.shares_memory(planes.uv, data)
    assert np.array_equal(planes.luma, frame.y)
    assert planes.uv_order == ('vu' if encoding == 'nv21' else 'uv')
    first, second = (frame.v, frame.u) if encoding == 'nv21' else (frame.u, frame.v)
    assert np.array_equal(planes.uv[:, 0::2], first)
    assert np.array_equal(planes.uv[:, 1::2], second)


def test_i420_planes_honour_a_padded_row_stride():
    frame = i420_frame(64, 48, stride=96)
    for name in ('i420', 'yuv420'):
        planes = image_planes(name, 48, 64, 96, frame.data)
        assert np.array_equal(planes.luma, frame.y)
        assert np.array_equal(planes.u, frame.u) and np.array_equal(planes.v, frame.v)
        assert planes.uv is None


def test_nv21_buffer_rows_and_double_step_conventions_are_recognised_by_length():
    frame = i420_frame(64, 48)
    data = frame.to_nv21()
    for height, step in ((48, 64), (72, 64), (48, 128)):
        planes = image_planes('nv21', height, 64, step, data)
        assert planes.luma.shape == (48, 64)
        assert np.array_equal(planes.luma, frame.y)
        assert np.array_equal(planes.uv[:, 0::2], frame.v)


def test_yuv_data_of_the_wrong_length_is_refused_with_the_expected_size():
    data = i420_frame(64, 48).to_nv21()[:-1]
    with pytest.raises(ValueError, match='4607 bytes; expected step\\*height\\*3/2 = 4608'):
        image_planes('nv21', 48, 64, 64, data)


def test_width_beyond_the_row_stride_is_refused():
    with pytest.raises(ValueError, match='exceeds the row stride'):
        image_planes('nv12', 48, 80, 64, bytes(64 * 48 * 3 // 2))


def test_mono8_planes_skip_row_padding():
    image = np.arange(48 * 80, dtype=np.uint32).astype(np.uint8).reshape(48, 80)
    planes = image_planes('mono8', 48, 64, 80, image.tobytes())
    assert np.array_equal(planes.luma, image[:, :64])
    assert planes.u is planes.v is planes.uv is None


@pytest.mark.parametrize('encoding', ['mono8', 'bgr8', 'rgb8'])
def test_packed_data_of_the_wrong_length_is_refused(encoding):
    with pytest.raises(ValueError, match='expected step\\*height'):
        image_planes(encoding, 48, 64, 64 * (1 if encoding == 'mono8' else 3), bytes(100))


def test_unknown_encoding_is_refused_naming_the_accepted_ones():
    with pytest.raises(ValueError, match="'yuyv'.*nv21"):
        image_planes('yuyv', 2, 2, 4, bytes(8))


def test_bgr8_luma_matches_the_original_luma_of_in_gamut_frames():
    frame = i420_frame(64, 48)
    payload = image_payload(frame, 'bgr8')
    planes = image_planes('bgr8', 48, 64, payload.step, payload.data)
    error = np.abs(planes.luma.astype(int) - frame.y.astype(int))
    assert error.max() <= 2


def test_rgb8_is_read_with_swapped_channels():
    bgr = natural_bgr(64, 48)
    from_bgr = image_planes('bgr8', 48, 64, 192, bgr.tobytes())
    from_rgb = image_planes('rgb8', 48, 64, 192, bgr[..., ::-1].tobytes())
    assert np.array_equal(from_bgr.luma, from_rgb.luma)


def test_bgr8_chroma_is_computed_only_when_asked_and_matches_opencv():
    bgr = natural_bgr(64, 48)
    assert image_planes('bgr8', 48, 64, 192, bgr.tobytes()).u is None
    planes = image_planes('bgr8', 48, 64, 192, bgr.tobytes(), need_chroma=True)
    reference = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420).reshape(-1)
    quarter = 32 * 24
    u_ref = reference[64 * 48:64 * 48 + quarter].reshape(24, 32)
    v_ref = reference[64 * 48 + quarter:].reshape(24, 32)
    assert np.abs(planes.u.astype(int) - u_ref).max() <= 2
    assert np.abs(planes.v.astype(int) - v_ref).max() <= 2


def test_every_cloud_field_is_float32_so_read_points_numpy_accepts_the_cloud():
    assert {field.datatype for field in CLOUD_FIELDS} == {POINTFIELD_FLOAT32}
    assert [f.name for f in CLOUD_FIELDS] == [
        'x', 'y', 'z', 'area', 'bbox_x', 'bbox_y', 'bbox_w', 'bbox_h', 'touches_border',
        'mean_luma', 'mu20', 'mu11', 'mu02', 'orientation', 'major_axis', 'minor_axis']
    assert [f.offset for f in CLOUD_FIELDS] == list(range(0, 64, 4))
    assert CLOUD_DTYPE.itemsize == 64


def sample_blobs():
    blobs = np.zeros(3, dtype=BLOB_DTYPE)
    blobs['x'] = [10.25, 0.0, 1919.5]
    blobs['y'] = [3.75, 7.0, 1000.125]
    blobs['area'] = [400, 1, 12]
    blobs['bbox_x'], blobs['bbox_y'] = [1, 0, 1917], [2, 7, 999]
    blobs['bbox_w'], blobs['bbox_h'] = [20, 1, 3], [20, 1, 4]
    blobs['touches_border'] = [False, True, True]
    blobs['mean_luma'] = [200.5, 151.0, 255.0]
    return blobs


def test_cloud_points_carry_every_blob_value():
    blobs = sample_blobs()
    points = cloud_points(blobs)
    for name in ('x', 'y', 'area', 'bbox_x', 'bbox_y', 'bbox_w', 'bbox_h', 'mean_luma'):
        assert np.array_equal(points[name], blobs[name].astype(np.float32)), name
    assert points['touches_border'].tolist() == [0.0, 1.0, 1.0]
    assert not points['z'].any()


def test_cloud_payload_reads_back_as_one_float32_row_per_blob():
    blobs = sample_blobs()
    payload = cloud_payload(blobs)
    assert (payload.width, payload.point_step, payload.row_step) == (3, 64, 192)
    # What read_points_numpy does: view the bytes with the fields' dtype, then unstructure.
    table = np.frombuffer(payload.data, dtype=np.float32).reshape(payload.width, -1)
    assert table[:, 0].tolist() == [10.25, 0.0, 1919.5]
    assert table[:, 3].tolist() == [400.0, 1.0, 12.0]


def test_empty_blob_array_gives_an_empty_cloud():
    payload = cloud_payload(np.zeros(0, dtype=BLOB_DTYPE))
    assert (payload.width, payload.row_step, len(payload.data)) == (0, 0, 0)


def test_cloud_points_refuse_an_array_without_centroids():
    with pytest.raises(ValueError, match='lacks fields'):
        cloud_points(np.zeros(2, dtype=[('x', 'f8')]))


def test_debug_overlay_tints_keyed_pixels_green_and_marks_centroids_red():
    luma = np.full((40, 60), 50, dtype=np.uint8)
    mask = np.zeros_like(luma)
    mask[10:15, 20:25] = 255
    blobs = np.zeros(1, dtype=BLOB_DTYPE)
    blobs['x'], blobs['y'] = 22.0, 12.0
    image = debug_overlay(luma, mask, blobs, cross_radius=3)
    assert image.shape == (40, 60, 3)
    assert image[0, 0].tolist() == [50, 50, 50]
    assert image[10, 20].tolist() == [50, 255, 50]
    for row, col in ((12, 22), (12, 19), (12, 25), (9, 22), (15, 22)):
        assert image[row, col].tolist() == [0, 0, 255], (row, col)


def test_debug_overlay_clips_crosses_at_the_frame_edge_and_reuses_its_buffer():
    luma = np.zeros((20, 20), dtype=np.uint8)
    blobs = np.zeros(2, dtype=BLOB_DTYPE)
    blobs['x'], blobs['y'] = [0.0, 19.0], [0.0, 19.0]
    out = np.empty((20, 20, 3), dtype=np.uint8)
    image = debug_overlay(luma, None, blobs, out=out, cross_radius=5)
    assert image is out
    assert image[0, 0].tolist() == [0, 0, 255] and image[19, 19].tolist() == [0, 0, 255]


@pytest.mark.parametrize('encoding', OUTPUT_ENCODINGS)
def test_published_payload_reads_back_into_the_same_luma(encoding):
    frame = i420_frame(64, 48, stride=80)
    payload = image_payload(frame, encoding)
    planes = image_planes(encoding, payload.height, payload.width, payload.step, payload.data)
    tolerance = 2 if encoding == 'bgr8' else 0
    assert np.abs(planes.luma.astype(int) - frame.y.astype(int)).max() <= tolerance
