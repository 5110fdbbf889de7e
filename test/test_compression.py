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

"""JPEG for image_raw/compressed: straight from YUV planes, decodable as image_transport's."""

import threading

import numpy as np
from proctree import wait_until
import pytest

from picam_ros.camera import compression
from picam_ros.camera.compression import FORMATS, JpegEncoder, JpegWorker
from picam_ros.core.frames import Frame, FrameFormat
from picam_ros.sources.synthetic import SyntheticConfig, SyntheticSource

cv2 = pytest.importorskip('cv2')
pytest.importorskip('PIL', reason='JPEG encoding needs Pillow (rosdep key python3-pil)')


def psnr(a, b):
    error = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0 ** 2 / error)


def scene(width=320, height=256):
    with SyntheticSource(SyntheticConfig(width=width, height=height, paced=False)) as source:
        return source.read(5.0).copy()


def repack(frame, layout, stride=0):
    out = Frame(FrameFormat(frame.width, frame.height, layout, stride or frame.width))
    out.y[:] = frame.y
    u, v = frame.chroma()
    out_u, out_v = out.chroma()
    out_u[:] = u
    out_v[:] = v
    return out


@pytest.mark.parametrize('layout, stride', [('i420', 0), ('i420', 384), ('nv21', 0),
                                            ('nv12', 0)])
def test_colour_jpeg_decodes_to_the_frame_in_bgr(layout, stride):
    frame = repack(scene(), layout, stride)
    fmt, data = JpegEncoder(quality=90).encode(frame)
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert fmt == 'bgr8; jpeg compressed bgr8'
    assert decoded.shape == (frame.height, frame.width, 3)
    reference = cv2.cvtColor(frame.to_i420().reshape(-1, frame.width), cv2.COLOR_YUV2BGR_I420)
    assert psnr(decoded, reference) > 30.0


def test_grey_jpeg_is_the_luma_plane():
    frame = scene()
    fmt, data = JpegEncoder(quality=90).encode(frame, grey=True)
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert fmt == FORMATS['mono8'] and decoded.ndim == 2
    full_range = np.clip((frame.y.astype(float) - 16) * 255 / 219, 0, 255)
    assert psnr(decoded, full_range) > 35.0


def test_lower_quality_gives_smaller_jpeg():
    frame = scene()
    assert len(JpegEncoder(30).encode(frame)[1]) < len(JpegEncoder(95).encode(frame)[1])


def test_the_encoder_counts_its_encodes():
    encoder = JpegEncoder()
    encoder.encode(scene())
    encoder.encode(scene(), grey=True)
    assert encoder.encodes == 2


def test_the_worker_encodes_submitted_frames_off_the_callers_thread():
    frame = scene()
    delivered = []
    done = threading.Event()

    def deliver(image_format, data, context):
        delivered.append((image_format, data[:2], context, threading.current_thread().name))
        done.set()

    worker = JpegWorker(frame.format, deliver)
    try:
        worker.submit(frame, 'header-1', grey=True, quality=50)
        assert done.wait(10.0)
    finally:
        worker.stop()
    assert delivered == [(FORMATS['mono8'], b'\xff\xd8', 'header-1', 'picam-jpeg')]
    assert worker.encodes == 1


def test_a_busy_worker_keeps_only_the_newest_waiting_frame():
    frame = scene()
    release = threading.Event()
    contexts = []

    def deliver(image_format, data, context):
        contexts.append(context)
        release.wait(10.0)

    worker = JpegWorker(frame.format, deliver)
    try:
        worker.submit(frame, 0)
        assert wait_until(lambda: contexts == [0])
        for number in (1, 2, 3):   # arrive while frame 0 is being delivered
            worker.submit(frame, number)
        release.set()
        assert wait_until(lambda: contexts[-1] == 3)
    finally:
        worker.stop()
    assert contexts[0] == 0 and contexts[-1] == 3 and worker.replaced == 2


def test_full_range_frames_go_into_the_jpeg_as_they_are():
    frame = scene()
    _, data = JpegEncoder(quality=95, full_range=True).encode(frame, grey=True)
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert psnr(decoded, frame.y) > 35.0


def full_range_bgr(frame):
    """JFIF (full-range BT.601) YCbCr -> BGR in floating point, chroma per 2x2 block."""
    u, v = (np.repeat(np.repeat(c.astype(np.float64) - 128, 2, 0), 2, 1) for c in frame.chroma())
    y = frame.y.astype(np.float64)
    rgb = [y + 1.402 * v, y - 0.344136 * u - 0.714136 * v, y + 1.772 * u]
    return np.clip(np.rint(np.stack(rgb[::-1], axis=-1)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize('native', [True, False], ids=['rgbx-kernel', 'pillow-ycbcr'])
@pytest.mark.parametrize('full_range', [False, True], ids=['limited', 'full'])
def test_both_routes_and_ranges_decode_to_the_right_colours(monkeypatch, native, full_range):
    if not native:
        monkeypatch.setattr(compression, '_native_yuv420_to_rgbx', None)
    elif compression._native_yuv420_to_rgbx is None:
        pytest.skip('C++ extension not built')
    frame = repack(scene(), 'nv21')
    _, data = JpegEncoder(quality=95, full_range=full_range).encode(frame)
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if full_range:
        reference = full_range_bgr(frame)
    else:
        reference = cv2.cvtColor(frame.to_i420().reshape(-1, frame.width),
                                 cv2.COLOR_YUV2BGR_I420)
    assert psnr(decoded, reference) > 33.0


def test_the_reused_buffer_follows_each_new_frame_and_size():
    encoder = JpegEncoder(quality=90)
    first, second = scene(), scene(320, 256)
    second.y[:] = 255 - first.y   # a different picture of the same size
    for frame in (first, second, scene(384, 288), first):
        _, data = encoder.encode(frame)
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        reference = cv2.cvtColor(frame.to_i420().reshape(-1, frame.width),
                                 cv2.COLOR_YUV2BGR_I420)
        assert decoded.shape == reference.shape and psnr(decoded, reference) > 30.0


def kernel():
    centroids = pytest.importorskip('picam_ros._centroids')
    return centroids.yuv420_to_rgbx


@pytest.mark.parametrize('layout, stride', [('i420', 0), ('i420', 352), ('nv12', 0),
                                            ('nv21', 0)])
def test_rgbx_kernel_limited_range_is_opencvs_conversion(layout, stride):
    frame = repack(scene(), layout, stride)
    u, v = frame.chroma()
    out = np.zeros((frame.height, frame.width, 4), np.uint8)
    kernel()(frame.y, u, v, out)
    reference = cv2.cvtColor(frame.to_i420().reshape(-1, frame.width), cv2.COLOR_YUV2BGR_I420)
    np.testing.assert_array_equal(out[..., 2::-1], reference)
    assert (out[..., 3] == 255).all()


def test_rgbx_kernel_full_range_is_jfif_and_writes_into_a_strided_buffer():
    frame = scene()
    u, v = frame.chroma()
    wide = np.zeros((frame.height, frame.width + 8, 4), np.uint8)
    kernel()(frame.y, u, v, wide[:, 2:-6], full_range=True)
    np.testing.assert_array_equal(wide[:, 2:-6, 2::-1], full_range_bgr(frame))
    assert not wide[:, :2].any() and not wide[:, -6:].any()


@pytest.mark.parametrize('bad', ['shape', 'channels', 'dtype', 'readonly', 'odd', 'chroma'])
def test_rgbx_kernel_rejects_bad_buffers(bad):
    frame = scene()
    y = frame.y
    u, v = frame.chroma()
    out = np.zeros((frame.height, frame.width, 4), np.uint8)
    if bad == 'shape':
        out = out[:-2]
    elif bad == 'channels':
        out = np.zeros((frame.height, frame.width, 3), np.uint8)
    elif bad == 'dtype':
        out = out.astype(np.uint16)
    elif bad == 'readonly':
        out.flags.writeable = False
    elif bad == 'odd':
        y = y[:-1]
    else:
        u = u[:, :-1]
    with pytest.raises((ValueError, BufferError, TypeError)):
        kernel()(y, u, v, out)
