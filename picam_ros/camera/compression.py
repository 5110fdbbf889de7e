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

"""JPEG for ``image_raw/compressed`` from the frame's YUV 4:2:0 planes (Pillow).

Pillow (PyPI ``Pillow``, Debian/Ubuntu ``python3-pil``, rosdep key ``python3-pil``) encodes
with its libjpeg(-turbo). The frame goes in as RGBX: a C++ kernel
(``picam_ros._centroids.yuv420_to_rgbx``, GIL released) converts the planes into a buffer this
encoder keeps, which Pillow wraps as an ``RGBX`` image without a copy, and libjpeg-turbo reads
it as ``JCS_EXT_RGBX`` and converts it to YCbCr with its SIMD code. Measured
(``bench/compression.py``), that beats handing Pillow a ``YCbCr`` image, the colour
conversion-free route: Pillow stores YCbCr as 4 bytes a pixel and packs it back to 3 in scalar
C (``ImagingPackRGB``, a fifth of that encode's CPU under perf), and libjpeg-turbo has SIMD
colour conversion only for RGB-family input (YCbCr goes through its plain-C ``null_convert``);
the chroma upsampling and merge for that image cost more again. Pillow exposes no raw
(downsampled) data input (libjpeg's ``raw_data_in``), so the encoder always gets
full-resolution chroma and subsamples it back to 4:2:0 (``subsampling=2``). Colours: the kernel
decodes BT.601 limited range (ffmpeg's yuv420p, what ``Frame.to_bgr`` and OpenCV assume;
bit-identical to ``cv2.COLOR_YUV2BGR_I420``) or full range (JFIF, what rpicam-vid writes for
``--codec yuv420``: ``apps/rpicam_vid.cpp`` configures sYCC for yuv420 and mjpeg). Without the
extension, the planes go in as a ``YCbCr`` image (limited range through a 256-entry table per
plane, Pillow ``point``; chroma upsampled, nearest). Grey frames (``mono8``) are encoded from
the luma plane alone.

The ``format`` string is the one image_transport's compressed plugin writes
(compressed_image_transport ``compressed_publisher.cpp``: ``<encoding>; jpeg compressed
<bgr8|mono8>``), with the encoding a subscriber gets when it decodes: ``bgr8`` for colour,
``mono8`` for grey. Its subscriber copies the first field into ``Image.encoding``, so
``nv21; ...`` would mislabel the decoded BGR image.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import io
import logging
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

try:
    from PIL import Image
except ImportError:   # Pillow is optional: without it there is no image_raw/compressed
    Image = None

try:
    from numpy.lib.array_utils import byte_bounds
except ImportError:   # numpy < 2
    from numpy import byte_bounds

from picam_ros.core.config import config_field, ConfigBase
from picam_ros.core.frames import Frame, FrameFormat
from picam_ros.core.latest_mailbox import LatestMailbox, MailboxThread

try:
    from picam_ros._centroids import yuv420_to_rgbx as _native_yuv420_to_rgbx
except ImportError:
    _native_yuv420_to_rgbx = None

#: Why image_raw/compressed cannot be encoded here, or None when it can.
UNAVAILABLE = None if Image is not None else (
    'image_raw/compressed is off: JPEG needs Pillow (rosdep key python3-pil, or pip install '
    'Pillow)')

#: CompressedImage.format for colour and grey JPEG, as image_transport's compressed plugin.
FORMATS = {'bgr8': 'bgr8; jpeg compressed bgr8', 'mono8': 'mono8; jpeg compressed mono8'}


def _full_range(low: int, span: int) -> list[int]:
    """Return the table taking limited-range codes (``low``..``low + span``) to 0..255."""
    levels = (np.arange(256) - low) * (255.0 / span)
    if low == 16 and span == 224:   # chroma: centred on 128
        levels = (np.arange(256) - 128) * (255.0 / 224) + 128
    return np.clip(np.rint(levels), 0, 255).astype(int).tolist()


_LUMA_TABLE = _full_range(16, 219)
_CHROMA_TABLE = _full_range(16, 224)


@dataclass(frozen=True)
class CompressionConfig(ConfigBase):
    """``image_raw/compressed`` settings (the ROS parameters ``compressed.<name>``)."""

    rate_hz: float = config_field(5.0, 'rate of image_raw/compressed, frames picked by capture '
                                       'time (0: every frame); encoded only while subscribed',
                                  low=0.0, high=1000.0, live=True, flag='')
    jpeg_quality: int = config_field(80, 'JPEG quality of image_raw/compressed', low=1,
                                     high=100, live=True, flag='')
    grey: bool = config_field(False, 'encode the luma only (mono8 JPEG, cheaper)', live=True,
                              flag='')


def _plane(view: np.ndarray) -> Image.Image:
    """Wrap a 2-D uint8 plane (any row stride, unit element stride) as a Pillow image."""
    height, width = view.shape
    stride = view.strides[0]
    if view.strides[1] != 1 or not _rows_fit(view, stride * height):
        view = np.ascontiguousarray(view)
        stride = width
    span = as_strided(view, shape=(stride * height,), strides=(1,))
    return Image.frombuffer('L', (width, height), span, 'raw', 'L', stride, 1)


def _rows_fit(view: np.ndarray, nbytes: int) -> bool:
    """Tell whether ``nbytes`` from the view's first byte lie inside the array it views."""
    root = view
    while isinstance(root.base, np.ndarray):
        root = root.base
    start = view.__array_interface__['data'][0]
    low, high = byte_bounds(root)
    return low <= start and start + nbytes <= high


class JpegEncoder:
    """Encode frames to JPEG at a quality; counts its encodes (``encodes``).

    ``full_range``: the frames are full-range YCbCr already (rpicam-vid); otherwise they are
    BT.601 limited range and are expanded on the way in.
    """

    def __init__(self, quality: int = 80, full_range: bool = False) -> None:
        self.quality = quality
        self.full_range = full_range
        self.encodes = 0
        self._rgbx: np.ndarray | None = None   # reused RGBX buffer, wrapped at each encode

    def encode(self, frame: Frame, grey: bool = False) -> tuple[str, bytes]:
        """Return (format string, JPEG bytes) for ``frame``."""
        self.encodes += 1
        out = io.BytesIO()
        u, v = frame.chroma()
        if not grey and u is not None and _native_yuv420_to_rgbx is not None:
            image = self._rgbx_of(frame, u, v)
            image.save(out, 'JPEG', quality=self.quality, subsampling=2)
            return FORMATS['bgr8'], out.getvalue()
        luma = _plane(frame.y)
        if not self.full_range:
            luma = luma.point(_LUMA_TABLE)
        if grey or u is None:
            luma.save(out, 'JPEG', quality=self.quality)
            return FORMATS['mono8'], out.getvalue()
        size = (frame.width, frame.height)
        planes = [_plane(c) for c in (u, v)]
        if not self.full_range:
            planes = [plane.point(_CHROMA_TABLE) for plane in planes]
        chroma = [plane.resize(size, Image.NEAREST) for plane in planes]
        image = Image.merge('YCbCr', (luma, *chroma))
        image.save(out, 'JPEG', quality=self.quality, subsampling=2)
        return FORMATS['bgr8'], out.getvalue()

    def _rgbx_of(self, frame: Frame, u: np.ndarray, v: np.ndarray) -> Image.Image:
        """Convert the frame into the reused RGBX buffer; return a Pillow image over it.

        The image is wrapped anew on every call: Pillow before 11.2.1 copies a ``frombuffer``
        image on its first ``save()`` and keeps the copy (Pillow #8828), so an image wrapped once
        would encode the first frame forever. Wrapping is O(1); the buffer itself is reused.
        """
        shape = (frame.height, frame.width, 4)
        if self._rgbx is None or self._rgbx.shape != shape:
            self._rgbx = np.empty(shape, np.uint8)
        _native_yuv420_to_rgbx(frame.y, u, v, self._rgbx, self.full_range)
        return Image.frombuffer('RGBX', (frame.width, frame.height), self._rgbx, 'raw', 'RGBX',
                                0, 1)


@dataclass
class _Job:
    frame: Frame
    context: Any = None
    grey: bool = False
    quality: int = 80


class JpegWorker:
    """Encode frames on a thread of its own, so the capture thread only copies them.

    ``submit`` copies the frame into a pool of three (a :class:`LatestMailbox`): a frame that
    arrives while the previous one is still being encoded replaces the waiting one
    (``replaced``), never blocking capture. ``deliver(format, jpeg, context)`` runs on the
    worker thread. Idle, the thread waits on a condition: no CPU while nobody subscribes.
    """

    STOP_TIMEOUT_S = 5.0

    def __init__(self, fmt: FrameFormat, deliver: Callable[[str, bytes, Any], None],
                 logger: logging.Logger | None = None, full_range: bool = False) -> None:
        self._encoder = JpegEncoder(full_range=full_range)
        self._deliver = deliver
        self._logger = logger or logging.getLogger('picam_ros.camera.compression')
        self.errors = 0
        self._consumer: MailboxThread[_Job] = MailboxThread(
            LatestMailbox([_Job(Frame(fmt)) for _ in range(3)]), self._encode, 'picam-jpeg')
        self._consumer.start()

    @property
    def encodes(self) -> int:
        return self._encoder.encodes

    @property
    def replaced(self) -> int:
        return self._consumer.mailbox.replaced

    def submit(self, frame: Frame, context: Any = None, *, grey: bool = False,
               quality: int = 80) -> None:
        mailbox = self._consumer.mailbox
        slot = mailbox.free_slot()
        job = mailbox.pool[slot]
        frame.copy_into(job.frame)
        job.context, job.grey, job.quality = context, grey, quality
        mailbox.publish(slot)

    def stop(self) -> None:
        """Stop the thread after the frame being encoded (bounded wait). Idempotent."""
        self._consumer.stop(self.STOP_TIMEOUT_S)

    def _encode(self, job: _Job) -> None:
        try:
            self._encoder.quality = job.quality
            image_format, data = self._encoder.encode(job.frame, grey=job.grey)
            self._deliver(image_format, data, job.context)
        except Exception:   # a bad frame or a failed publish must not end the thread
            self.errors += 1
            if self.errors == 1 or self.errors % 100 == 0:
                self._logger.exception('JPEG encode/publish failed (%d so far)', self.errors)
