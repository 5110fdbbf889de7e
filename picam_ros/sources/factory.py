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

"""Which source to build: the flat source settings (ROS parameters, CLI flags) and the factory."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
import logging

from picam_ros.core.config import config_field, ConfigBase, ConfigError
from picam_ros.sources.base import FrameSource
from picam_ros.sources.ffmpeg import FfmpegConfig, FfmpegSource
from picam_ros.sources.rpicam import RpicamConfig, RpicamSource
from picam_ros.sources.synthetic import SyntheticConfig, SyntheticSource

SOURCE_KINDS = ('synthetic', 'rpicam', 'ffmpeg')
_SPECIFIC = {'synthetic': SyntheticConfig, 'rpicam': RpicamConfig, 'ffmpeg': FfmpegConfig}
_COMMON = ('source', 'width', 'height', 'fps')
_SUPERVISION = ('frame_timeout', 'start_timeout', 'max_failures', 'backoff_initial',
                'backoff_max')
#: The flat settings each source kind uses (the rest do nothing for it).
_USES = {
    'rpicam': (*_COMMON, 'camera', 'stride', 'extra_args', 'pipe', *_SUPERVISION),
    'ffmpeg': (*_COMMON, 'input', 'input_args', 'loop', 'realtime', *_SUPERVISION),
    'synthetic': (*_COMMON, 'seed', 'paced', 'drift_x', 'drift_y'),
}


def _narrower(name: str) -> str:
    """Say which sources accept a narrower range of ``name`` than the flat field's."""
    notes = []
    for kind, config in _SPECIFIC.items():
        meta = {f.name: f.metadata for f in dataclasses.fields(config)}[name]
        notes.append(f'{kind} {meta["min"]}..{meta["max"]}')
    return '; per source: ' + ', '.join(notes)


@dataclass(frozen=True)
class SourceConfig(ConfigBase):
    """Flat view over all source settings, for ROS parameters and CLI flags.

    One table (with ``config_field`` metadata) that the camera node and the CLI declare as
    parameters/flags; :meth:`specific` turns it into the config of the chosen source.
    """

    source: str = config_field('synthetic', 'frame source', choices=SOURCE_KINDS,
                               launch='source')
    width: int = config_field(1024, 'frame width in pixels (even)' + _narrower('width'),
                              low=2, high=16384, launch='width')
    height: int = config_field(1024, 'frame height in pixels (even)' + _narrower('height'),
                               low=2, high=16384, launch='height')
    fps: float = config_field(25.0, 'frame rate, frames/s', low=0.1, high=1000.0,
                              launch='fps')
    camera: int = config_field(0, 'rpicam: camera index', low=0, high=15, launch='camera')
    stride: int = config_field(0, 'rpicam: luma row stride in bytes; 0 = width rounded up '
                                  'to 64', low=0, high=65536)
    extra_args: str = config_field('', 'rpicam: extra rpicam-vid arguments (shell syntax), '
                                       'e.g. "--vflip --shutter 10000"')
    pipe: str = config_field('', 'rpicam: read the frames of an rpicam-vid started elsewhere '
                                 '(e.g. on the host of a container) from this FIFO instead of '
                                 'starting it; empty: start rpicam-vid', launch='pipe')
    input: str = config_field('', 'ffmpeg: file, /dev/videoN, rtsp:// URL or lavfi:<graph>')
    input_args: str = config_field('', 'ffmpeg: options before -i (shell syntax)')
    loop: bool = config_field(True, 'ffmpeg: loop a file input forever')
    realtime: bool = config_field(True, 'ffmpeg: read files/lavfi at their native rate')
    seed: int = config_field(0, 'synthetic: scene seed', low=0, high=2**31 - 1)
    paced: bool = config_field(
        True, 'synthetic: deliver frames at fps (false: as fast as they are read)')
    drift_x: float = config_field(1.5, 'synthetic: scene motion, px/frame', low=-64.0, high=64.0)
    drift_y: float = config_field(0.75, 'synthetic: scene motion, px/frame', low=-64.0,
                                  high=64.0)
    frame_timeout: float = config_field(2.0, 'seconds without a frame before the child is '
                                             'restarted', low=0.05, high=600.0)
    start_timeout: float = config_field(10.0, 'seconds allowed for the first frame after a '
                                              'start', low=0.1, high=600.0)
    max_failures: int = config_field(5, 'runs in a row without a frame before giving up',
                                     low=1, high=1000)
    backoff_initial: float = config_field(
        0.2, 'restart delay after a camera run that delivered frames, and the first delay '
             'after one that did not, s', low=0.01, high=60.0)
    backoff_max: float = config_field(
        5.0, 'longest restart delay, s: runs without a frame double the delay up to this',
        low=0.01, high=600.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.specific()  # validates the combination (e.g. odd sizes, empty ffmpeg input)

    def specific(self) -> RpicamConfig | FfmpegConfig | SyntheticConfig:
        """Return the chosen source's own config; a range it narrows is named with it."""
        try:
            return self._specific()
        except ConfigError as error:
            raise ConfigError(error.name, f'{error.problem} (the {self.source} source)') from None

    def _specific(self) -> RpicamConfig | FfmpegConfig | SyntheticConfig:
        if self.source == 'ffmpeg' and not self.input.strip():
            raise ConfigError('input', 'must name the ffmpeg input: a file, /dev/videoN, an '
                                       'rtsp:// URL or lavfi:<graph>')
        return _SPECIFIC[self.source](**{name: getattr(self, name)
                                         for name in _USES[self.source] if name != 'source'})

    def ignored(self) -> list[str]:
        """Return the settings given a value (other than the default) the source does not use.

        ``input`` with the synthetic source, ``seed`` with rpicam: a user who sets one most
        likely meant another source, or expects an effect that will not come.
        """
        used = _USES[self.source]
        return [f.name for f in dataclasses.fields(self)
                if f.name not in used and getattr(self, f.name) != f.default]


def sources_using(name: str) -> tuple[str, ...]:
    """Return the source kinds that use the flat setting ``name``."""
    return tuple(kind for kind in SOURCE_KINDS if name in _USES[kind])


def make_source(config: SourceConfig | RpicamConfig | FfmpegConfig | SyntheticConfig,
                logger: logging.Logger | None = None) -> FrameSource:
    """Build the source a config describes (a flat :class:`SourceConfig` or a specific one)."""
    if isinstance(config, SourceConfig):
        config = config.specific()
    if isinstance(config, RpicamConfig):
        return RpicamSource(config, logger)
    if isinstance(config, FfmpegConfig):
        return FfmpegSource(config, logger)
    if isinstance(config, SyntheticConfig):
        return SyntheticSource(config)
    raise TypeError(f'make_source: unsupported config {type(config).__name__}')
