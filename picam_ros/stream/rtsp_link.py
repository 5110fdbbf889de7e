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

"""What the encoder and the media server share: the RTSP endpoint and the restart backoff.

Both configs (``encoder.StreamConfig``, ``mediamtx.MediaServerConfig``) are built from these, so
``stream.host``, ``stream.rtsp_port`` and ``stream.backoff_*`` are one setting each, declared
here once, and not two fields that happen to share a name.
"""

from __future__ import annotations

from dataclasses import dataclass

from picam_ros.core.config import config_field, ConfigBase, ConfigError


@dataclass(frozen=True)
class RtspEndpoint(ConfigBase):
    """Where the RTSP server listens: the encoder publishes there, the server is probed there."""

    host: str = config_field('127.0.0.1', 'RTSP server host (the encoder publishes to it)')
    rtsp_port: int = config_field(8554, 'RTSP port of the server', low=1, high=65535)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.host:
            raise ConfigError('host', 'must not be empty')


@dataclass(frozen=True)
class RestartBackoff(ConfigBase):
    """How fast a dead encoder or server is restarted: doubling delays, capped."""

    backoff_initial: float = config_field(
        0.2, 'first restart delay of the encoder and server, s (doubles per failure)',
        low=0.01, high=10.0)
    backoff_max: float = config_field(
        2.0, 'longest restart delay of the encoder and server, s', low=0.01, high=60.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.backoff_max < self.backoff_initial:
            raise ConfigError('backoff_max', f'{self.backoff_max:g} must be >= backoff_initial '
                                             f'({self.backoff_initial:g})',
                              mentions=('backoff_initial',))
