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

"""The camera node's settings, ROS-free: its parameters, and the runtime they build.

:func:`camera_parameter_rows` is every parameter the camera node declares (and the standalone
runner turns into flags); :class:`CameraSettings` validates their values into the source, stream
and server configs; :func:`build_runtime` turns those into a :class:`CameraRuntime`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import dataclasses
from dataclasses import dataclass
from typing import Any

from picam_ros.camera.compression import CompressionConfig
from picam_ros.camera.runtime import CameraRuntime, Log, RuntimeConfig
from picam_ros.centroids.settings import PROFILES_ROW
from picam_ros.core.config import ConfigError
from picam_ros.core.params import (
    check_rows,
    config_from_rows,
    flag_for,
    ParamRow,
    rows_from_config,
)
from picam_ros.core.payloads import OUTPUT_ENCODINGS
from picam_ros.sources import make_source, RpicamConfig, SourceConfig
from picam_ros.sources.rpicam_controls import RpicamControls
from picam_ros.stream.encoder import StreamConfig, StreamPublisher
from picam_ros.stream.mediamtx import MediaServer, MediaServerConfig, MediaServerUnavailable
from picam_ros.stream.rtsp_link import RestartBackoff, RtspEndpoint


def build_runtime(source_config: Any, *, stream: Any = None, server: Any = None,
                  config: RuntimeConfig | None = None, log: Log | None = None,
                  on_capture_error: Callable[[str], None] | None = None) -> CameraRuntime:
    """Build a runtime for a source config (``make_source``) and optional stream configs.

    ``stream`` is a ``StreamConfig`` (None: no live stream); ``server`` a
    ``MediaServerConfig`` for the MediaMTX instance the stream publishes to (None: the stream
    publishes to a server nobody here manages). Nothing is started yet.
    """
    source = make_source(source_config)
    publisher = media_server = unavailable = None
    if stream is not None:
        publisher = StreamPublisher(stream, source.format)
        media_server = MediaServer(server) if server is not None else None
        unavailable = MediaServerUnavailable
    elif server is not None:
        raise ValueError('a media server config needs a stream config')
    return CameraRuntime(source, stream=publisher, server=media_server, config=config, log=log,
                         stream_unavailable=unavailable, on_capture_error=on_capture_error)


def viewer_urls(host: str, stream: Any, server: Any = None) -> list[str]:
    """Where people can watch the stream: the browser (WebRTC) page, then RTSP."""
    urls = []
    if server is not None:
        urls.append(f'http://{host}:{server.webrtc_port}/{stream.path}')
    urls.append(f'rtsp://{host}:{stream.rtsp_port}/{stream.path}')
    return urls


RELIABILITIES = ('best_effort', 'reliable')
#: Settings shared by the encoder and the media server, declared once as ``stream.<name>``.
_SHARED_STREAM_FIELDS = (tuple(f.name for f in dataclasses.fields(RtspEndpoint))
                         + tuple(f.name for f in dataclasses.fields(RestartBackoff)))
_STREAM_RENAMES = {'external': 'external_server'}


def camera_parameter_rows() -> tuple[ParamRow, ...]:
    """Return the camera node's parameters as ``params.ParamRow`` tables.

    Source and stream parameters come from the config dataclasses' field metadata (names,
    defaults, ranges, descriptions; one source of truth with the CLI) and are read-only: a new
    size or source needs a restart. The stream's frame rate is the source's ``fps``.
    """
    stream_rows = rows_from_config(StreamConfig, prefix='stream', read_only=True,
                                   exclude={'fps'})
    server_rows = tuple(
        dataclasses.replace(row, name=name, flag=flag_for(name))
        for row, name in ((row, 'stream.' + _STREAM_RENAMES.get(row.field, row.field))
                          for row in rows_from_config(MediaServerConfig, prefix='stream',
                                                      read_only=True,
                                                      exclude=_SHARED_STREAM_FIELDS)))
    node_rows = (
        ParamRow('encoding', 'string', 'nv21',
                 'image_raw encoding: nv21 (4:2:0, Jazzy sensor_msgs), nv12, mono8 (luma '
                 'only, cheapest) or bgr8 (for viewers; costs a colour conversion)',
                 choices=OUTPUT_ENCODINGS, flag=''),
        ParamRow('frame_id', 'string', 'camera_optical_frame',
                 'header.frame_id of images and camera_info', flag=''),
        ParamRow('camera_info_url', 'string', '',
                 'calibration YAML (camera_calibration format): a path, file:///abs/path or '
                 'package://pkg/path; empty: an uncalibrated camera_info', flag=''),
        ParamRow('throttle_rate_hz', 'double', 5.0,
                 'rate of ~/image_throttled, frames picked by capture time (0: off)',
                 minimum=0.0, maximum=1000.0, launch='centroid_rate_hz', flag=''),
        ParamRow('qos.depth', 'integer', 5,
                 'history depth of the image, compressed and camera_info publishers (a '
                 'default: qos_overrides.<topic>.publisher.depth overrides it per topic)',
                 minimum=1, maximum=100, read_only=True, flag=''),
        ParamRow('qos.reliability', 'string', 'best_effort',
                 'reliability of the image, compressed and camera_info publishers (a default: '
                 'qos_overrides.<topic>.publisher.reliability overrides it per topic; large '
                 'frames over best_effort need a big socket receive buffer, see README)',
                 choices=RELIABILITIES, read_only=True, flag=''),
        ParamRow('sensor_timestamps', 'bool', True,
                 'rpicam: stamp images with the sensor capture time (rpicam-vid --save-pts, '
                 'mapped onto the node clock); other sources use the read time',
                 read_only=True, flag='--sensor-timestamps'),
        ParamRow('centroids.enabled', 'bool', False,
                 'run the centroid pipeline in this process, straight from capture (no frame '
                 'is serialised for it): centroids, <profile>/centroids and debug_image as the '
                 'centroid node publishes them, with the same profiles and <profile>.* '
                 'parameters', read_only=True, launch='inprocess_centroids', flag=''),
        ParamRow('centroids.rate_hz', 'double', 5.0,
                 'rate of the in-process centroids, frames picked by capture time (0, or the '
                 'camera fps or more: every frame)', minimum=0.0, maximum=1000.0,
                 launch='inprocess_rate_hz', flag=''),
        dataclasses.replace(PROFILES_ROW, flag='', description=(
            'keying profiles of the in-process centroids (centroids.enabled); each has '
            '<profile>.* parameters and its own output topic, as on the centroid node')),
        ParamRow('stream.enabled', 'bool', True,
                 'publish a live H.264 stream through MediaMTX for browsers (WebRTC)',
                 read_only=True, launch='stream', flag=''),
    )
    compressed_rows = rows_from_config(CompressionConfig, prefix='compressed')
    return (rows_from_config(SourceConfig, read_only=True) + control_rows() + node_rows
            + compressed_rows + stream_rows + server_rows)


def control_rows() -> tuple[ParamRow, ...]:
    """Return the rpicam-vid controls as live ``controls.<name>`` rows (flags: rpicam's names)."""
    return rows_from_config(RpicamControls, prefix='controls', flag_prefix='')


@dataclass(frozen=True)
class CameraSettings:
    """Everything the camera node is configured with, built from parameter values."""

    source: SourceConfig
    stream: StreamConfig | None          # None when the stream is off
    server: MediaServerConfig | None     # None when the stream is off
    encoding: str
    frame_id: str
    camera_info_url: str
    throttle_rate_hz: float
    qos_depth: int
    qos_reliability: str
    controls: RpicamControls = dataclasses.field(default_factory=RpicamControls)
    sensor_timestamps: bool = True
    compression: CompressionConfig = dataclasses.field(default_factory=CompressionConfig)
    centroids_enabled: bool = False
    centroids_rate_hz: float = 5.0
    profiles: tuple[str, ...] = tuple(PROFILES_ROW.default)

    @classmethod
    def from_parameters(cls, values: Mapping[str, Any],
                        rows: tuple[ParamRow, ...] | None = None) -> CameraSettings:
        """Validate ROS values (keyed by parameter name) and build the configs.

        Raises ValueError naming the parameter for a bad value or combination.
        """
        rows = rows if rows is not None else camera_parameter_rows()
        by_name = {row.name: row for row in rows}
        values = {row.name: values.get(row.name, row.default) for row in rows}
        check_rows(rows, values)
        source_rows = [r for r in rows if '.' not in r.name
                       and r.field in _field_names(SourceConfig)]
        source = config_from_rows(SourceConfig, source_rows, values)
        controls = controls_from_parameters(values, rows)
        compression = compression_from_parameters(values, rows)
        # Checked with the stream off too: a bad stream setting is refused when it is typed,
        # not when the stream is switched on one day.
        stream_rows = [r for r in rows if r.name.startswith('stream.')
                       and r.field in _field_names(StreamConfig)]
        server_rows = [r for r in rows if r.name.startswith('stream.')
                       and r.field in _field_names(MediaServerConfig)]
        stream = _named(StreamConfig, stream_rows + [by_name['fps']],
                        **{r.field: r.from_ros(values[r.name]) for r in stream_rows},
                        fps=source.fps)
        server = config_from_rows(MediaServerConfig, server_rows, values)
        if not values['stream.enabled']:
            stream = server = None
        return cls(source=source, stream=stream, server=server,
                   encoding=values['encoding'], frame_id=values['frame_id'],
                   camera_info_url=values['camera_info_url'],
                   throttle_rate_hz=values['throttle_rate_hz'],
                   qos_depth=values['qos.depth'], qos_reliability=values['qos.reliability'],
                   controls=controls, sensor_timestamps=values['sensor_timestamps'],
                   compression=compression,
                   centroids_enabled=values['centroids.enabled'],
                   centroids_rate_hz=values['centroids.rate_hz'],
                   profiles=tuple(values['profiles']))._checked()

    def source_config(self) -> Any:
        """Return the chosen source's own config; rpicam's carries the controls."""
        specific = self.source.specific()
        if isinstance(specific, RpicamConfig):
            return dataclasses.replace(specific, controls=self.controls,
                                       sensor_timestamps=self.sensor_timestamps)
        return specific

    def _checked(self) -> CameraSettings:
        """Refuse controls that ``extra_args`` sets too (the error names both)."""
        _named(self.source_config, list(control_rows()))
        return self


def controls_from_parameters(values: Mapping[str, Any],
                             rows: tuple[ParamRow, ...] | None = None) -> RpicamControls:
    """Build the controls from ROS values keyed by parameter name (``controls.<name>``)."""
    rows = tuple(r for r in (rows if rows is not None else control_rows())
                 if r.name.startswith('controls.'))
    return config_from_rows(RpicamControls, rows, values)


def _named(build: Callable[..., Any], rows: list[ParamRow], *args: Any, **kwargs: Any) -> Any:
    """Call ``build``; a :class:`ConfigError` is renamed from config fields to parameters."""
    try:
        return build(*args, **kwargs)
    except ConfigError as error:
        raise error.renamed({row.field: row.name for row in rows}) from None


def _field_names(config: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(config))


def compression_from_parameters(values: Mapping[str, Any],
                                rows: tuple[ParamRow, ...] | None = None) -> CompressionConfig:
    """Build the image_raw/compressed settings from ROS values (``compressed.<name>``)."""
    rows = tuple(r for r in (rows if rows is not None else camera_parameter_rows())
                 if r.name.startswith('compressed.'))
    return config_from_rows(CompressionConfig, rows, values)


def apply_controls(source: Any, values: Mapping[str, Any]) -> str | None:
    """Apply live ``controls.<name>`` values (all of them, ROS values) to a running source.

    Returns None on success, else the reason (naming the parameter) and nothing changes. Only
    the rpicam source has controls; it restarts rpicam-vid with them at once.
    """
    if not hasattr(source, 'set_controls'):
        return (f'{", ".join(sorted(values))}: camera controls need the rpicam source '
                f'(this camera is {getattr(source, "kind", type(source).__name__)})')
    try:
        controls = controls_from_parameters(values)
        _named(source.set_controls, list(control_rows()), controls)
    except ValueError as error:
        return str(error)
    return None


def source_diagnostics(source: Any) -> dict[str, Any]:
    """Return what /diagnostics says of an rpicam source's controls and stamps ({}: other)."""
    if not hasattr(source, 'set_controls'):
        return {}
    sensor, read = source.sensor_stamps, source.read_stamps
    gap = source.last_control_gap
    return {
        'controls': ' '.join(source.config.controls.argv()) or '(rpicam-vid defaults)',
        'control changes': source.control_changes,
        'last control change gap (s)': '' if gap is None else f'{gap:.3f}',
        'frames with sensor timestamps': sensor,
        'frames with read-time stamps': read,
    }


#: Parameters the camera node applies while running; every other one needs a restart.
LIVE_PARAMETERS = tuple(row.name for row in camera_parameter_rows() if not row.read_only)
