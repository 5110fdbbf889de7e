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

"""The operator node's parameters as a config schema: the same rows as every other node's.

:class:`OperatorParams` is the one table of names, defaults, ranges and descriptions; the node
declares its rows (:func:`operator_parameter_rows`) with descriptors and builds the config with
``params.config_from_rows``, so a bad value is refused the way the camera, centroid and machine
nodes refuse one, and ``scripts/update_docs.py`` renders the same rows into docs/parameters.md.
ROS-free: the docs script imports it without rclpy or aiohttp.
"""

from __future__ import annotations

from dataclasses import dataclass

from picam_ros.core.config import config_field, ConfigBase
from picam_ros.core.params import ParamRow, rows_from_config

#: The default WHEP URL: the machine's composite path, or a camera node's path.
WHEP_URLS = {'machine': 'http://{host}:8889/composite/whep',
             'camera': 'http://{host}:8889/cam/whep'}


@dataclass(frozen=True)
class OperatorParams(ConfigBase):
    """What the operator node is started with; only ``frame_id`` changes while it runs.

    Flags are those of the ROS-free runner (``python -m picam_ros.operator_page``); launch
    arguments those of ``operator.launch.py``.
    """

    host: str = config_field('127.0.0.1', 'address the page is served on (0.0.0.0: every '
                             'interface)', launch='operator_host')
    port: int = config_field(8080, 'TCP port of the page (0: any free port, logged)',
                             low=0, high=65535, launch='operator_port')
    token_file: str = config_field('', 'file holding the operator token; empty: a random '
                                   'token, logged', launch='token_file')
    whep_url: str = config_field(
        '', 'WHEP URL of the stream the page plays ({host}: the host the page was loaded '
            f'from); empty: {WHEP_URLS["machine"]} with a machine_node, else '
            f'{WHEP_URLS["camera"]}', launch='whep_url', flag='')
    video_url: str = config_field('', 'play this video URL instead of WHEP (a recording; '
                                  'tests)', flag='')
    media_dir: str = config_field('', 'directory served at /media/ on the page origin '
                                  '(recordings)', flag='')
    profiles: tuple = config_field(('pads',), 'keying profiles of the centroid node (same '
                                   'order as its `profiles`: the first publishes on '
                                   '`centroids`)', flag='')
    centroid_node: str = config_field('centroids', 'the centroid node whose keying parameters '
                                      'the sliders set (relative to this namespace)',
                                      launch='centroid_node', flag='')
    mode_node: str = config_field('', 'node whose mode parameter the mode buttons set (the '
                                  'composite of picam_ros.machine.composite); empty: no modes',
                                  flag='')
    mode_parameter: str = config_field('mode', 'name of that parameter; it takes normal, '
                                       'onlyup, onlydown or frozen', flag='')
    machine_node: str = config_field('', 'the picam_ros machine node the page drives '
                                     '(composite video, modes, calibration services, '
                                     'pads/leads sliders); empty: none',
                                     launch='machine_node', flag='')
    calibration_file: str = config_field('', 'machine calibration YAML for `target_mm`; '
                                         "empty: the machine node's calibration_file "
                                         'parameter', flag='')
    frame_id: str = config_field('camera_optical_frame', 'frame_id of `target` when a set '
                                 'has none', live=True, flag='')


def operator_parameter_rows() -> tuple[ParamRow, ...]:
    """Return the operator node's parameter rows (read-only but for the ``live`` fields)."""
    return rows_from_config(OperatorParams)
