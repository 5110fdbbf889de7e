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

"""Pixel formats: what each frame layout is, in one table.

Every question about a layout is answered here, the way camera_ros's ``format_mapping`` and
picamera2's ``formats.py`` do: its ROS image encoding, its ffmpeg pixel format, its chroma
order, how its planes lie in a buffer (:func:`plane_views`, returning :class:`Planes`, the one
type both ``Frame.planes()`` and the Image decoder return) and which ``Frame`` method packs a
frame into it. Adding a layout (e.g. YUYV from a USB camera) is one :data:`FORMATS` entry plus
its plane views and packing kernel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np


class Planes(NamedTuple):
    """Zero-copy views of a frame's planes, shaped for ``centroids.find_centroids``.

    ``luma`` is (H, W); 4:2:0 chroma comes either as planar ``u``/``v`` (H/2, W/2) or as one
    interleaved ``uv`` plane (H/2, W) with ``uv_order`` 'vu' (nv21) or 'uv' (nv12).
    """

    luma: np.ndarray
    u: np.ndarray | None = None
    v: np.ndarray | None = None
    uv: np.ndarray | None = None
    uv_order: str | None = None


@dataclass(frozen=True)
class PixelFormat:
    """One frame layout.

    ``chroma``: ``'planar'`` (U plane, then V plane), ``'uv'``/``'vu'`` (one interleaved plane in
    that order) or ``None`` (luma only). ``ros_encoding``: the sensor_msgs/Image encoding it is
    published and read as; ``publish``: whether the camera node offers it (i420 is not a
    sensor_msgs encoding, only accepted on input, also as ``aliases``). ``ffmpeg_pix_fmt``: what
    ffmpeg calls it. ``pack``: the ``Frame`` method writing a packed copy (no row padding).
    ``rpicam_codec``: what ``rpicam-vid --codec`` calls it (``None``: rpicam-vid cannot write it).

    The geometry below (bytes per frame, even sides, even stride) follows from ``chroma``, so
    frames, sources and messages size their buffers from here, never from a layout's name.
    """

    layout: str
    ros_encoding: str
    ffmpeg_pix_fmt: str
    chroma: str | None
    pack: str
    publish: bool = True
    aliases: tuple[str, ...] = ()
    rpicam_codec: str | None = None

    @property
    def subsampled(self) -> bool:
        """Tell whether the layout carries 4:2:0 chroma (even sizes, 3/2 bytes per pixel)."""
        return self.chroma is not None

    @property
    def even_stride(self) -> bool:
        """Tell whether the luma stride must be even: planar chroma rows are ``stride // 2``."""
        return self.chroma == 'planar'

    def frame_bytes(self, stride: int, height: int) -> int:
        """Bytes of one frame whose luma rows are ``stride`` bytes (``stride = width``: packed)."""
        luma = stride * height
        if self.chroma == 'planar':
            return luma + 2 * (stride // 2) * (height // 2)
        if self.chroma in ('uv', 'vu'):
            return luma + stride * (height // 2)
        return luma

    def height_of_rows(self, rows: int) -> int | None:
        """Image height of a packed frame seen as ``rows`` rows of ``width`` bytes (None: none).

        4:2:0 frames are ``height * 3/2`` rows (luma, then half-height chroma), so ``rows`` must
        be a multiple of 3; luma-only frames are ``height`` rows.
        """
        if not self.subsampled:
            return rows
        return None if rows * 2 % 3 else rows * 2 // 3


#: Every frame layout; the published ones in the camera node's order of preference (nv21, the
#: 4:2:0 encoding Jazzy's sensor_msgs defines, first).
FORMATS: dict[str, PixelFormat] = {f.layout: f for f in (
    PixelFormat('i420', 'i420', 'yuv420p', 'planar', 'to_i420', publish=False,
                aliases=('yuv420',), rpicam_codec='yuv420'),
    PixelFormat('nv21', 'nv21', 'nv21', 'vu', 'to_nv21'),
    PixelFormat('nv12', 'nv12', 'nv12', 'uv', 'to_nv12'),
    PixelFormat('mono8', 'mono8', 'gray', None, 'to_mono8'),
)}
#: Layout of each ROS encoding a frame layout is read from (aliases included).
BY_ENCODING: dict[str, PixelFormat] = {
    name: f for f in FORMATS.values() for name in (f.ros_encoding, *f.aliases)}


def plane_views(buf: np.ndarray, layout: str, width: int, height: int,
                stride: int) -> Planes:
    """Return views of the planes of a ``layout`` image in the 1-D uint8 ``buf`` (no copy).

    ``stride`` is the luma row length in bytes; planar chroma rows are ``stride // 2`` bytes,
    an interleaved chroma row is ``stride`` bytes.
    """
    chroma = FORMATS[layout].chroma
    luma = buf[:stride * height].reshape(height, stride)[:, :width]
    rest = buf[stride * height:]
    if chroma == 'planar':
        half = stride // 2
        plane = half * (height // 2)
        u = rest[:plane].reshape(height // 2, half)[:, :width // 2]
        v = rest[plane:2 * plane].reshape(height // 2, half)[:, :width // 2]
        return Planes(luma, u, v)
    if chroma in ('uv', 'vu'):
        uv = rest[:stride * (height // 2)].reshape(height // 2, stride)[:, :width]
        return Planes(luma, uv=uv, uv_order=chroma)
    return Planes(luma)


def split_uv(planes: Planes) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(U, V) as (H/2, W/2) views for any 4:2:0 planes (element-strided when interleaved)."""
    if planes.uv is None:
        return planes.u, planes.v
    pairs = planes.uv.reshape(planes.uv.shape[0], -1, 2)
    first, second = pairs[..., 0], pairs[..., 1]
    return (first, second) if planes.uv_order == 'uv' else (second, first)
