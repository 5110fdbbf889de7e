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

"""Any input ffmpeg can open (file, V4L2 device, RTSP/HTTP URL, lavfi graph) as raw frames."""

from __future__ import annotations

from dataclasses import dataclass
import logging
import os

from picam_ros.core.config import config_field, ConfigError
from picam_ros.core.formats import FORMATS
from picam_ros.core.frames import FrameFormat
from picam_ros.sources.base import SourceError
from picam_ros.sources.process_reader import CaptureConfig, ProcessSource

#: The layout ffmpeg is asked to write on the pipe (its pix_fmt comes from the format table).
_LAYOUT = FORMATS['i420']


@dataclass(frozen=True)
class FfmpegConfig(CaptureConfig):
    """Any input ffmpeg can open, decoded and scaled to yuv420p WxH at ``fps`` on a pipe.

    ``input`` is a file, a V4L2 device (``/dev/video0``), an RTSP/HTTP URL, or a lavfi graph
    (``lavfi:testsrc2=size=640x480:rate=25``). Files loop forever when ``loop`` and are read at
    their native rate when ``realtime`` (``-re``); lavfi graphs are paced by ``realtime`` too.
    """

    input: str = config_field('lavfi:testsrc2=size=1024x1024:rate=25',
                              'file, /dev/videoN, rtsp://... URL, or lavfi:<graph>')
    input_args: tuple[str, ...] = config_field(
        (), 'ffmpeg options placed before -i, e.g. -f v4l2 -input_format mjpeg')
    loop: bool = config_field(True, 'loop a file input forever (-stream_loop -1)')
    realtime: bool = config_field(True, 'read files and lavfi graphs at their native rate (-re)')
    binary: str = config_field('ffmpeg', 'ffmpeg executable (name on PATH or a path)')

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.input.strip():
            raise ConfigError('input', 'must not be empty')

    @property
    def input_kind(self) -> str:
        text = self.input
        if text.startswith('lavfi:'):
            return 'lavfi'
        if text.startswith('/dev/video'):
            return 'device'
        if '://' in text and not text.startswith('file://'):
            return 'url'
        return 'file'

    @property
    def frame_format(self) -> FrameFormat:
        return FrameFormat(self.width, self.height, _LAYOUT.layout)

    def argv(self) -> list[str]:
        kind = self.input_kind
        args = [self.binary, '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error']
        if kind == 'lavfi':
            args += ['-f', 'lavfi']
        elif kind == 'device' and '-f' not in self.input_args:
            args += ['-f', 'v4l2']
        elif kind == 'url' and self.input.startswith('rtsp'):
            args += ['-rtsp_transport', 'tcp']
        if kind == 'file' and self.loop:
            args += ['-stream_loop', '-1']
        if kind in ('file', 'lavfi') and self.realtime:
            args += ['-re']
        args += [*self.input_args]
        args += ['-i', self.input[len('lavfi:'):] if kind == 'lavfi' else self.input]
        args += ['-an', '-sn', '-dn',
                 '-vf', (f'fps={self.fps:g},scale={self.width}:{self.height},'
                         f'format={_LAYOUT.ffmpeg_pix_fmt}'),
                 '-f', 'rawvideo', '-pix_fmt', _LAYOUT.ffmpeg_pix_fmt, 'pipe:1']
        return args


class FfmpegSource(ProcessSource):
    """Frames from any ffmpeg input (see :class:`FfmpegConfig`)."""

    kind = 'ffmpeg'

    def __init__(self, config: FfmpegConfig | None = None,
                 logger: logging.Logger | None = None) -> None:
        config = config or FfmpegConfig()
        super().__init__(config, config.frame_format, config.argv(), logger)

    def _check_startable(self) -> None:
        super()._check_startable()
        cfg = self.config
        if cfg.input_kind in ('file', 'device'):
            path = cfg.input.removeprefix('file://')
            if not os.path.exists(path):
                raise SourceError(f'ffmpeg: input {cfg.input!r} does not exist')
