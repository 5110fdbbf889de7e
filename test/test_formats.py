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

"""The format table answers every layout question, and frames and images share one Planes type."""

import numpy as np
import pytest

from picam_ros.core.formats import BY_ENCODING, FORMATS, Planes
from picam_ros.core.frames import Frame, FrameFormat, LAYOUTS
from picam_ros.core.payloads import image_planes, INPUT_ENCODINGS, OUTPUT_ENCODINGS
from picam_ros.stream.encoder import encoder_argv, StreamConfig


def random_frame(layout: str, stride: int | None = None) -> Frame:
    frame = Frame(FrameFormat(64, 48, layout, stride))
    frame.data[:] = np.random.default_rng(7).integers(0, 256, frame.data.size, dtype=np.uint8)
    return frame


def test_layouts_and_encodings_come_from_the_table():
    assert LAYOUTS == tuple(FORMATS)
    assert OUTPUT_ENCODINGS == ('nv21', 'nv12', 'mono8', 'bgr8')
    assert set(BY_ENCODING) <= set(INPUT_ENCODINGS)


@pytest.mark.parametrize('layout', list(FORMATS))
def test_a_frame_and_its_packed_image_give_the_same_planes(layout):
    frame = random_frame(layout, stride=80)
    packed = getattr(frame, FORMATS[layout].pack)()
    decoded = image_planes(FORMATS[layout].ros_encoding, 48, 64, 64, packed)
    own = frame.planes()
    assert type(own) is Planes and type(decoded) is Planes
    assert own.uv_order == decoded.uv_order == (
        FORMATS[layout].chroma if FORMATS[layout].chroma in ('uv', 'vu') else None)
    for mine, theirs in zip(own, decoded):
        if isinstance(mine, np.ndarray):
            np.testing.assert_array_equal(mine, theirs)
        else:
            assert mine == theirs


@pytest.mark.parametrize('layout', list(FORMATS))
def test_the_encoder_reads_each_layout_in_its_ffmpeg_pixel_format(layout):
    argv = encoder_argv(StreamConfig(), FrameFormat(64, 48, layout))
    assert argv[argv.index('-pix_fmt') + 1] == FORMATS[layout].ffmpeg_pix_fmt
