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

"""The camera node's parameter table and its mapping to source and stream configs (no ROS)."""

import pytest

from picam_ros.camera.settings import camera_parameter_rows, CameraSettings, LIVE_PARAMETERS
from picam_ros.sources import SourceConfig
from picam_ros.stream.encoder import StreamConfig
from picam_ros.stream.mediamtx import MediaServerConfig


def test_parameter_names_are_unique_and_documented():
    rows = camera_parameter_rows()
    names = [row.name for row in rows]
    assert len(names) == len(set(names))
    assert all(row.description for row in rows), [r.name for r in rows if not r.description]


def test_exactly_the_live_parameters_are_writable():
    writable = {row.name for row in camera_parameter_rows() if not row.read_only}
    assert writable == set(LIVE_PARAMETERS)


def test_launch_facing_names_are_present():
    names = {row.name for row in camera_parameter_rows()}
    assert {'source', 'camera', 'width', 'height', 'fps', 'stride', 'extra_args', 'input',
            'encoding', 'frame_id', 'camera_info_url', 'qos.depth', 'qos.reliability',
            'throttle_rate_hz', 'stream.enabled', 'stream.path', 'stream.rtsp_port',
            'stream.webrtc_port', 'stream.mediamtx_path', 'stream.external_server',
            'stream.bitrate_kbps', 'stream.crf', 'stream.gop_seconds',
            'stream.preset'} <= names


def test_defaults_come_from_the_config_dataclasses():
    settings = CameraSettings.from_parameters({})
    assert settings.source == SourceConfig()
    assert settings.stream == StreamConfig(fps=SourceConfig().fps)
    assert settings.server == MediaServerConfig()
    assert (settings.encoding, settings.frame_id) == ('nv21', 'camera_optical_frame')
    assert (settings.qos_depth, settings.qos_reliability) == (5, 'best_effort')
    assert settings.throttle_rate_hz == 5.0


def test_stream_frame_rate_follows_the_source():
    settings = CameraSettings.from_parameters({'fps': 12.5})
    assert settings.source.fps == settings.stream.fps == 12.5


def test_one_rtsp_port_serves_the_encoder_and_the_server():
    settings = CameraSettings.from_parameters({'stream.rtsp_port': 9554})
    assert settings.stream.rtsp_port == settings.server.rtsp_port == 9554


def test_unset_sentinels_map_back_to_none_and_values_pass_through():
    default = CameraSettings.from_parameters({})
    assert default.stream.bitrate_kbps is None and default.server.mediamtx_path is None
    set_ = CameraSettings.from_parameters({'stream.bitrate_kbps': 2000,
                                           'stream.mediamtx_path': '/opt/mediamtx'})
    assert set_.stream.bitrate_kbps == 2000 and set_.server.mediamtx_path == '/opt/mediamtx'


def test_external_server_parameter_sets_external_mode():
    assert CameraSettings.from_parameters({'stream.external_server': True}).server.external


def test_disabled_stream_builds_no_stream_configs():
    settings = CameraSettings.from_parameters({'stream.enabled': False})
    assert settings.stream is None and settings.server is None


@pytest.mark.parametrize('name, value, message', [
    ('encoding', 'yuv422', 'encoding'),
    ('qos.reliability', 'sometimes', 'qos.reliability'),
    ('qos.depth', 0, 'qos.depth'),
    ('throttle_rate_hz', -1.0, 'throttle_rate_hz'),
    ('source', 'webcam', 'source'),
    ('width', 1023, 'width and height must be even'),
    ('stream.preset', 'instant', 'stream.preset'),
])
def test_bad_values_are_rejected_naming_the_parameter(name, value, message):
    with pytest.raises(ValueError, match=message):
        CameraSettings.from_parameters({name: value})


def test_ffmpeg_source_without_an_input_is_rejected():
    with pytest.raises(ValueError, match='input'):
        CameraSettings.from_parameters({'source': 'ffmpeg'})
