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

"""Frame sources: rpicam-vid, any ffmpeg input, and the built-in synthetic scene."""

from picam_ros.sources.base import (
    FrameSource,
    FrameTimeout,
    SourceError,
    SourceStats,
    SourceStopped,
)
from picam_ros.sources.factory import make_source, SOURCE_KINDS, SourceConfig, sources_using
from picam_ros.sources.ffmpeg import FfmpegConfig, FfmpegSource
from picam_ros.sources.process_reader import CaptureConfig, ProcessSource
from picam_ros.sources.rpicam import RpicamConfig, RpicamSource
from picam_ros.sources.synthetic import SyntheticConfig, SyntheticSource

__all__ = [
    'SOURCE_KINDS',
    'CaptureConfig',
    'FfmpegConfig',
    'FfmpegSource',
    'FrameSource',
    'FrameTimeout',
    'ProcessSource',
    'RpicamConfig',
    'RpicamSource',
    'SourceConfig',
    'SourceError',
    'SourceStats',
    'SourceStopped',
    'SyntheticConfig',
    'SyntheticSource',
    'make_source',
    'sources_using',
]
