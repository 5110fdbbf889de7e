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

"""The operator stream at a fraction of the capture size: a box filter on the 4:2:0 planes.

A Raspberry Pi 5 has no H.264 encoder in hardware: x264 runs on its cores, and its cost grows
with the pixels it encodes. Halving the stream's width and height quarters that work while the
topics and the centroids keep every captured pixel. The filter (the C++ ``box_downscale``: the
rounded mean of each factor x factor block) reads the frame's planes where they lie, padded
rows and interleaved NV12/NV21 chroma included, and writes the packed I420 the encoder reads.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from picam_ros.core.frames import Frame, FrameFormat

try:
    from picam_ros._centroids import box_downscale
except ImportError:   # the extension is not built: only scale 1 is available
    box_downscale = None

#: Stream size divisors: full, half and quarter width and height.
SCALES = (1, 2, 4)


def scaled_format(fmt: FrameFormat, scale: int) -> FrameFormat:
    """Return the packed format of ``fmt``'s frames divided by ``scale``.

    Width and height are rounded down to even numbers (4:2:0 needs them); a column or row of
    blocks that does not fit is left out. 4:2:0 layouts become I420, grey stays grey.
    """
    if scale not in SCALES:
        raise ValueError(f'scale must be one of {", ".join(map(str, SCALES))}, got {scale}')
    if scale == 1:
        return fmt.packed()
    width, height = (fmt.width // (2 * scale)) * 2, (fmt.height // (2 * scale)) * 2
    if width < 2 or height < 2:
        raise ValueError(f'{fmt.width}x{fmt.height} divided by {scale} leaves no image')
    return FrameFormat(width, height, fmt.layout if not fmt.pixel_format.subsampled else 'i420')


def downscaler(fmt: FrameFormat, scale: int) -> Callable[[Frame, np.ndarray], None]:
    """Return ``write(frame, out)``: ``fmt``'s frame divided by ``scale`` into ``out``, packed.

    ``out`` is a flat uint8 buffer of ``scaled_format(fmt, scale).packed_bytes``.
    """
    target = scaled_format(fmt, scale)
    if box_downscale is None:
        raise RuntimeError('the stream scale needs the C++ extension picam_ros._centroids: '
                           'build the package (scripts/setup.sh or colcon build)')
    width, height = target.width, target.height
    luma = width * height
    chroma = (width // 2) * (height // 2)

    def write(frame: Frame, out: np.ndarray) -> None:
        box_downscale(frame.y, out[:luma].reshape(height, width), scale)
        if target.layout == 'mono8':
            return
        u, v = frame.chroma()
        planes = out[luma:luma + 2 * chroma]
        box_downscale(u, planes[:chroma].reshape(height // 2, width // 2), scale)
        box_downscale(v, planes[chroma:].reshape(height // 2, width // 2), scale)

    return write
