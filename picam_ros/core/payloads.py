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

"""Frames and centroids <-> ROS messages, with the byte work kept ROS-free.

Everything here runs without ROS: :func:`fill_image` only assigns fields of a message the caller
provides; the messages that need ROS packages are built in :mod:`picam_ros.ros.messages`.

Publishing an image moves a few MiB per frame, so the payload is built once into a reusable
``array.array('B')``: that is the type ``rosidl_generator_py`` stores for ``uint8[]``. What the
generated setter then does with it (rosidl_generator_py ``_msg.py.em``):

- Humble (and Jazzy+ with ``ROS_PYTHON_CHECK_FIELDS=1``): an ``array.array`` of typecode ``'B'`` is
  stored as-is, without a copy.
- Jazzy+ by default: the fast path sits inside the field check, so every value goes through
  ``array.array('B', value)``. For an ``array.array`` (or ``bytes``) that is one memcpy (~0.25 ms
  for a 1920x1920 nv21 frame here); for a ``memoryview`` or numpy array it iterates element by
  element (~0.5-0.7 s for the same frame). So only ``array.array``/``bytes`` are ever assigned.

Incoming images are viewed, not copied: :func:`image_planes` returns numpy views of the message's
buffer that the centroid engine reads in place.
"""

from __future__ import annotations

import array
from typing import Any, NamedTuple

import numpy as np

from picam_ros.core.formats import BY_ENCODING, FORMATS, plane_views, Planes

#: Encodings of colour conversions for people (cv_bridge and rqt cannot show nv21).
_VIEWER_ENCODINGS = ('bgr8', 'rgb8')
#: Encodings the camera node can publish: the frame layouts ROS knows, then bgr8 for viewers.
OUTPUT_ENCODINGS: tuple[str, ...] = (
    *(f.ros_encoding for f in FORMATS.values() if f.publish), 'bgr8')
#: Encodings the centroid node accepts. ``i420``/``yuv420`` are not sensor_msgs encodings: they
#: name the planar layout rpicam-vid writes (Y, then U, then V), for publishers that send it as is.
INPUT_ENCODINGS: tuple[str, ...] = (*BY_ENCODING, *_VIEWER_ENCODINGS)
_YUV420 = tuple(name for name, f in BY_ENCODING.items() if f.subsampled)


class ImagePayload(NamedTuple):
    """The fields of a ``sensor_msgs/Image`` for one frame; ``data`` is an ``array.array('B')``."""

    encoding: str
    height: int
    width: int
    step: int
    data: array.array


def payload_layout(width: int, height: int, encoding: str) -> tuple[int, int]:
    """``(step, data_bytes)`` of a packed image of that size and encoding.

    4:2:0 encodings follow sensor_msgs: ``height`` is the image height, ``step`` the luma row
    length, and ``data`` holds the luma plane followed by the half-height chroma plane, so
    ``len(data) == step * height * 3 / 2``.
    """
    if encoding in BY_ENCODING:
        return width, BY_ENCODING[encoding].frame_bytes(width, height)
    if encoding in _VIEWER_ENCODINGS:
        return 3 * width, 3 * width * height
    raise ValueError(f'unsupported image encoding {encoding!r}; '
                     f'expected one of {", ".join(OUTPUT_ENCODINGS)}')


def new_payload_buffer(size: int) -> array.array:
    """Allocate a zeroed ``array.array('B')`` of ``size`` bytes (what payloads are built in)."""
    return array.array('B', b'\0') * size


def image_payload(frame: Any, encoding: str = 'nv21',
                  out: array.array | None = None) -> ImagePayload:
    """Convert ``frame`` (a :class:`~picam_ros.core.frames.Frame`) into an Image's bytes.

    The pixels are written into ``out`` when it is an ``array.array('B')`` of the right size (pass
    the previous payload's ``data`` to reuse it: no allocation per frame), else into a new buffer.
    Row padding of the source is removed (``step`` is the packed row length).
    """
    if encoding not in OUTPUT_ENCODINGS:
        raise ValueError(f'cannot publish encoding {encoding!r}; '
                         f'expected one of {", ".join(OUTPUT_ENCODINGS)}')
    width, height = frame.format.width, frame.format.height
    step, size = payload_layout(width, height, encoding)
    if not (isinstance(out, array.array) and out.typecode == 'B' and len(out) == size):
        out = new_payload_buffer(size)
    view = np.frombuffer(out, dtype=np.uint8)
    pack = BY_ENCODING[encoding].pack if encoding in BY_ENCODING else 'to_bgr'
    getattr(frame, pack)(out=view)
    return ImagePayload(encoding, height, width, step, out)


def as_message_bytes(data: Any) -> array.array:
    """Return ``data`` as an ``array.array('B')``: copied at most once, never per element."""
    if isinstance(data, array.array) and data.typecode == 'B':
        return data
    if isinstance(data, np.ndarray):
        data = np.ascontiguousarray(data, dtype=np.uint8).reshape(-1)
    result = array.array('B')
    result.frombytes(memoryview(data).cast('B'))
    return result


def fill_image(msg: Any, payload: ImagePayload, header: Any) -> Any:
    """Fill a ``sensor_msgs.msg.Image`` from ``payload`` and return it.

    The message may keep a reference to ``payload.data`` (Humble stores the array as is): reuse
    the buffer for the next frame only after ``publish`` returned, which serialises synchronously.
    """
    msg.header = header
    msg.height = payload.height
    msg.width = payload.width
    msg.encoding = payload.encoding
    msg.is_bigendian = 0
    msg.step = payload.step
    msg.data = as_message_bytes(payload.data)
    return msg


def _as_uint8(data: Any) -> np.ndarray:
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise ValueError(f'image data must be uint8, got {data.dtype}')
        return np.ascontiguousarray(data).reshape(-1)
    return np.frombuffer(data, dtype=np.uint8)


def yuv420_geometry(encoding: str, height: int, width: int, step: int,
                    nbytes: int) -> tuple[int, int]:
    """Find ``(image_height, luma_stride)`` of a 4:2:0 message from its data length.

    Publishers disagree on ``height``/``step`` for planar YUV; each convention gives a different
    length for the same fields, so the length decides:

    - sensor_msgs (Jazzy, and Rolling since common_interfaces PR #264): ``height`` is the image
      height, ``step`` the luma stride, ``len = step * height * 3/2``;
    - ``height`` as buffer rows (the frame seen as a mono image, height * 3/2 rows):
      ``len = step * height``;
    - ``step = 2 * width`` (from Jazzy's ``numChannels('nv21') == 2``):
      ``len = step * height * 3/4``.
    """
    if step * height * 3 == 2 * nbytes and height % 2 == 0:
        rows, stride = height, step
    elif step * height == nbytes and height % 3 == 0 and (height * 2 // 3) % 2 == 0:
        rows, stride = height * 2 // 3, step
    elif step * height * 3 == 4 * nbytes and step % 2 == 0 and height % 2 == 0:
        rows, stride = height, step // 2
    else:
        raise ValueError(
            f'{encoding} image {width}x{height} with step {step} carries {nbytes} bytes; '
            f'expected step*height*3/2 = {step * height * 3 // 2} '
            f'(or the buffer-rows form step*height = {step * height})')
    if width > stride:
        raise ValueError(f'{encoding} image: width {width} exceeds the row stride {stride}')
    if width % 2:
        raise ValueError(f'{encoding} is 4:2:0 subsampled: width must be even, got {width}')
    if BY_ENCODING[encoding].even_stride and stride % 2:
        raise ValueError(f'{encoding} luma stride must be even (chroma rows are stride/2), '
                         f'got {stride}')
    return rows, stride


def image_planes(encoding: str, height: int, width: int, step: int, data: Any, *,
                 need_chroma: bool = False) -> Planes:
    """Return views of an image message's planes (``data`` is ``msg.data`` or any uint8 buffer).

    4:2:0 and mono8 input is never copied. bgr8/rgb8 input has no luma plane, so one is computed
    with the BT.601 limited-range weights (the inverse of what the camera node's bgr8 conversion
    does, so thresholds mean the same for every encoding, except that luma outside 16..235
    saturates); chroma planes are computed (one sample per 2x2 block) only when ``need_chroma``.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f'image size must be positive, got {width}x{height}')
    buf = _as_uint8(data)
    nbytes = buf.size
    if encoding in _YUV420:
        rows, stride = yuv420_geometry(encoding, height, width, step, nbytes)
        return plane_views(buf, BY_ENCODING[encoding].layout, width, rows, stride)
    if encoding in BY_ENCODING:
        _check_packed(encoding, height, width, step, nbytes, 1)
        return plane_views(buf, BY_ENCODING[encoding].layout, width, height, step)
    if encoding in ('bgr8', 'rgb8'):
        _check_packed(encoding, height, width, step, nbytes, 3)
        pixels = buf.reshape(height, step)[:, :3 * width].reshape(height, width, 3)
        order = (2, 1, 0) if encoding == 'bgr8' else (0, 1, 2)
        red, green, blue = (pixels[..., i] for i in order)
        luma = _bt601_luma(red, green, blue)
        if not need_chroma:
            return Planes(luma)
        if width % 2 or height % 2:
            raise ValueError(f'chroma keying needs an even image size, got {width}x{height}')
        u, v = _bt601_chroma(red[::2, ::2], green[::2, ::2], blue[::2, ::2])
        return Planes(luma, u, v)
    raise ValueError(f'unsupported image encoding {encoding!r}; '
                     f'expected one of {", ".join(INPUT_ENCODINGS)}')


def _check_packed(encoding: str, height: int, width: int, step: int, nbytes: int,
                  channels: int) -> None:
    if step < width * channels:
        raise ValueError(f'{encoding} image: step {step} is shorter than a row of '
                         f'{width} pixels ({width * channels} bytes)')
    if nbytes != step * height:
        raise ValueError(f'{encoding} image {width}x{height} with step {step} carries {nbytes} '
                         f'bytes; expected step*height = {step * height}')


def _bt601_luma(red: np.ndarray, green: np.ndarray, blue: np.ndarray) -> np.ndarray:
    # Y = 16 + (66 R + 129 G + 25 B + 128) / 256: the integer form of BT.601 limited range. The
    # largest sum (56228) fits uint16, so no wider temporaries are needed.
    acc = np.multiply(red, 66, dtype=np.uint16)
    term = np.multiply(green, 129, dtype=np.uint16)
    acc += term
    np.multiply(blue, 25, out=term, dtype=np.uint16)
    acc += term
    acc += 128
    acc >>= 8
    acc += 16
    return acc.astype(np.uint8)


def _bt601_chroma(red: np.ndarray, green: np.ndarray,
                  blue: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r, g, b = (c.astype(np.int32) for c in (red, green, blue))
    u = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128
    v = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128
    return np.clip(u, 0, 255).astype(np.uint8), np.clip(v, 0, 255).astype(np.uint8)


# --- centroids -> sensor_msgs/PointCloud2 -------------------------------------------------------

#: ``sensor_msgs/PointField`` datatype constant for float32 (PointField.msg: FLOAT32 = 7).
POINTFIELD_FLOAT32 = 7


class CloudField(NamedTuple):
    """One ``sensor_msgs/PointField``: name, byte offset, datatype constant, count."""

    name: str
    offset: int
    datatype: int
    count: int


#: Every field is float32 so that ``sensor_msgs_py.point_cloud2.read_points_numpy`` works on the
#: cloud: it refuses clouds whose fields differ in datatype (Humble checks all fields, Jazzy the
#: requested ones against the first). float32 holds integers exactly up to 2**24 and pixel
#: coordinates to ~1e-4 px at 2000 px. ``touches_border`` is 0.0 or 1.0; ``z`` is always 0.
CLOUD_FIELD_NAMES: tuple[str, ...] = (
    'x', 'y', 'z', 'area', 'bbox_x', 'bbox_y', 'bbox_w', 'bbox_h', 'touches_border', 'mean_luma',
    'mu20', 'mu11', 'mu02', 'orientation', 'major_axis', 'minor_axis')
CLOUD_FIELDS: tuple[CloudField, ...] = tuple(
    CloudField(name, 4 * i, POINTFIELD_FLOAT32, 1) for i, name in enumerate(CLOUD_FIELD_NAMES))
#: One packed little-endian point; ``is_bigendian`` is always False.
CLOUD_DTYPE = np.dtype([(name, '<f4') for name in CLOUD_FIELD_NAMES])
CLOUD_POINT_STEP = CLOUD_DTYPE.itemsize


def cloud_points(blobs: np.ndarray) -> np.ndarray:
    """Pack the engine's blob array (``CENTROID_DTYPE``) into cloud points (``CLOUD_DTYPE``).

    Column-wise assignment: no per-blob Python work. A ``mean_luma`` missing from ``blobs`` is NaN.
    """
    names = blobs.dtype.names or ()
    missing = {'x', 'y', 'area', 'bbox_x', 'bbox_y', 'bbox_w', 'bbox_h'} - set(names)
    if missing:
        raise ValueError(f'blob array lacks fields {sorted(missing)}; got {list(names)}')
    points = np.empty(blobs.shape[0], dtype=CLOUD_DTYPE)
    for name in CLOUD_FIELD_NAMES:
        if name == 'z':
            points['z'] = 0.0
        elif name in names:
            points[name] = blobs[name]
        else:
            points[name] = np.nan
    return points


class CloudPayload(NamedTuple):
    """The fields of a ``sensor_msgs/PointCloud2`` (height 1, little-endian) for some blobs."""

    fields: tuple[CloudField, ...]
    width: int
    point_step: int
    row_step: int
    data: array.array


def cloud_payload(blobs: np.ndarray) -> CloudPayload:
    points = cloud_points(blobs)
    data = array.array('B')
    data.frombytes(points.tobytes())
    n = points.shape[0]
    return CloudPayload(CLOUD_FIELDS, n, CLOUD_POINT_STEP, CLOUD_POINT_STEP * n, data)
