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

"""Minimal PNG writer for snapshots.

OpenCV is a test oracle here, not a runtime dependency, and a snapshot is one frame a person
looks at, so zlib and the PNG container are all that is needed.
"""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np

_SIGNATURE = b'\x89PNG\r\n\x1a\n'
_COLOR_TYPE = {1: 0, 3: 2}  # channels -> PNG colour type (grey, truecolour)


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack('>I', len(payload)) + kind + payload + struct.pack('>I', crc)


def encode_png(image: np.ndarray, bgr: bool = True, level: int = 6) -> bytes:
    """Encode an 8-bit grey (H, W) or colour (H, W, 3) image as PNG bytes.

    Colour images are BGR by default (the order OpenCV and ROS ``bgr8`` use); PNG stores RGB.
    """
    img = np.asarray(image)
    if img.dtype != np.uint8:
        raise ValueError(f'PNG snapshot needs uint8 pixels, got {img.dtype}')
    if img.ndim == 2:
        channels = 1
    elif img.ndim == 3 and img.shape[2] == 3:
        channels = 3
        if bgr:
            img = img[:, :, ::-1]
    else:
        raise ValueError(f'PNG snapshot needs an (H, W) or (H, W, 3) image, got shape {img.shape}')
    height, width = img.shape[:2]
    if height == 0 or width == 0:
        raise ValueError(f'PNG snapshot needs a non-empty image, got {width}x{height}')
    rows = np.empty((height, 1 + width * channels), dtype=np.uint8)
    rows[:, 0] = 0  # filter type "None" on every row
    rows[:, 1:] = img.reshape(height, width * channels)
    header = struct.pack('>IIBBBBB', width, height, 8, _COLOR_TYPE[channels], 0, 0, 0)
    return b''.join((
        _SIGNATURE,
        _chunk(b'IHDR', header),
        _chunk(b'IDAT', zlib.compress(rows.tobytes(), level)),
        _chunk(b'IEND', b''),
    ))


def write_png(path: str | os.PathLike, image: np.ndarray, bgr: bool = True) -> None:
    """Write ``image`` to ``path`` atomically (a reader never sees a half-written file)."""
    data = encode_png(image, bgr=bgr)
    tmp = f'{os.fspath(path)}.tmp'
    with open(tmp, 'wb') as f:
        f.write(data)
    os.replace(tmp, path)
