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


"""The machine node's parameters, ROS-free: both cameras, composite, profiles, alignment, steps.

``<camera>.<name>`` for each camera (``board``, ``component``) is a camera node parameter
(source, size, fps, encoding, frame_id, ...; read-only) plus the synthetic scene settings;
``stream.*`` configures the composite's live stream; ``composite.*``, ``pads.*``, ``leads.*``,
``alignment.*``, ``verdict.*`` and ``footprint_file`` are live.
"""

from __future__ import annotations

import dataclasses

from picam_ros.camera.settings import camera_parameter_rows
from picam_ros.centroids.engine import KeyingParams
from picam_ros.core.params import ParamRow, rows_from_config
from picam_ros.core.payloads import OUTPUT_ENCODINGS
from picam_ros.machine.alignment import AlignmentParams
from picam_ros.machine.composite import CompositeParams
from picam_ros.machine.verdict import VerdictParams
from picam_ros.machine.vision import LEADS_KEYING, PADS_KEYING
from picam_ros.sources.synthetic import SyntheticConfig

__all__ = ['CAMERAS', 'SCENE_FIELDS', 'machine_parameter_rows', 'machine_table_rows']

CAMERAS = ('board', 'component')
#: The synthetic scene settings each camera declares (``<camera>.<field>``).
SCENE_FIELDS = {'board': ('scene', 'edges', 'sensor_noise'),
                'component': ('scene', 'part_dx', 'part_dy', 'part_theta', 'nozzle_dx',
                              'nozzle_dy', 'edges', 'sensor_noise')}
#: Defaults that differ from the camera node's: frame ids, the up camera's index and --vflip,
#: the synthetic machine scenes (and a part that needs a correction, for the demo).
_CAMERA_DEFAULTS = {'board': {'frame_id': 'board_optical_frame', 'scene': 'footprint'},
                    'component': {'frame_id': 'component_optical_frame', 'scene': 'part',
                                  'extra_args': '--vflip', 'camera': 1, 'part_dx': 4.0,
                                  'part_dy': -3.0, 'part_theta': 5.0}}


def machine_parameter_rows() -> tuple[ParamRow, ...]:
    """Every parameter the machine node declares (README table and tests use this)."""
    rows: list[ParamRow] = []
    camera_rows = camera_parameter_rows()
    synthetic = {row.field: row for row in rows_from_config(SyntheticConfig, read_only=True)}
    for camera in CAMERAS:
        defaults = _CAMERA_DEFAULTS[camera]
        for row in camera_rows:
            if row.name.startswith('stream.'):
                continue
            # Read-only here: the machine node applies no camera setting while running.
            rows.append(dataclasses.replace(
                row, name=f'{camera}.{row.name}', launch='', flag='', read_only=True,
                default=defaults.get(row.name, row.default)))
        for field in SCENE_FIELDS[camera]:
            row = synthetic[field]
            rows.append(dataclasses.replace(
                row, name=f'{camera}.{field}', flag='', launch='',
                description='synthetic: ' + row.description,
                default=defaults.get(field, row.default)))
    for row in camera_rows:
        if row.name.startswith('stream.'):
            default = 'composite' if row.name == 'stream.path' else row.default
            rows.append(dataclasses.replace(row, launch='', flag='', default=default,
                                            description='composite stream: ' + row.description))
    rows += rows_from_config(CompositeParams, prefix='composite', flag_prefix='')
    rows.append(ParamRow('composite.encoding', 'string', 'nv21',
                         'encoding of the composite topic: nv21 (4:2:0, no colour conversion), '
                         'nv12, mono8 or bgr8', choices=OUTPUT_ENCODINGS,
                         flag=''))
    for profile, keying in (('pads', PADS_KEYING), ('leads', LEADS_KEYING)):
        for row in rows_from_config(KeyingParams, prefix=profile, flag_prefix=''):
            rows.append(dataclasses.replace(row, default=row.to_ros(getattr(keying, row.field))))
    rows += rows_from_config(AlignmentParams, prefix='alignment', read_only=False,
                             flag_prefix='')
    rows += rows_from_config(VerdictParams, prefix='verdict', read_only=False, flag_prefix='')
    rows += [
        ParamRow('footprint_file', 'string', '',
                 "the part's footprint YAML (lead centres or a family, README \"Footprints\"): "
                 'the expected lead count, and a search over every rotation that reports a '
                 'symmetric part as AMBIGUOUS; empty: none', flag=''),
        ParamRow('calibration_file', 'string', '',
                 'machine calibration YAML (read at start, written by every calibration step); '
                 'empty: uncalibrated, steps apply until the node ends', read_only=True, flag=''),
        ParamRow('centroid_rate_hz', 'double', 2.0,
                 'rate of board/centroids, component/centroids and alignment (the original '
                 'machine pushed twice a second)', minimum=0.0, maximum=100.0, flag=''),
        ParamRow('fresh.settle_threshold', 'double', 0.0,
                 'capture_fresh/align: wait until the mean absolute luma difference of two '
                 'consecutive frames is at most max(this, settle_noise_factor x the measured '
                 'still-frame difference) (grey levels; both 0: the first frame after the '
                 'request)', minimum=0.0, maximum=255.0, flag=''),
        ParamRow('fresh.settle_noise_factor', 'double', 1.5,
                 'the settle threshold follows the noise: this many times the smallest '
                 'difference of consecutive frames over the last 250 frames of each camera '
                 '(its still-frame noise); 0: the fixed settle_threshold only', minimum=0.0,
                 maximum=100.0, flag=''),
        ParamRow('fresh.timeout', 'double', 3.0,
                 'seconds a service waits for fresh frames', minimum=0.1, maximum=60.0, flag=''),
        ParamRow('calibration.click_x', 'double', -1.0,
                 'clicked point x in the shown view (onlyup: component image, onlydown: board '
                 'image), pixels; used by set_nozzle / set_datum', minimum=-1.0,
                 maximum=16384.0, flag=''),
        ParamRow('calibration.click_y', 'double', -1.0, 'clicked point y, pixels',
                 minimum=-1.0, maximum=16384.0, flag=''),
        ParamRow('calibration.scale_camera', 'string', 'down',
                 'camera whose scale set_scale measures: up or down', choices=('up', 'down'),
                 flag=''),
        ParamRow('calibration.scale_points', 'integer_array', [0, 0, 0, 0],
                 'two image points [x1, y1, x2, y2] a known distance apart, pixels', flag=''),
        ParamRow('calibration.scale_distance_mm', 'double', 1.0,
                 'the distance between the two scale points on the object, mm', minimum=1e-6,
                 maximum=1e4, flag=''),
    ]
    # The machine node has no command line: no row names a flag or a launch argument.
    return tuple(dataclasses.replace(row, flag='', launch='') for row in rows)


def machine_table_rows() -> tuple[ParamRow, ...]:
    """Return the README's machine rows: all but the per-camera copies of camera_node's."""
    camera = {row.name for row in camera_parameter_rows()}
    return tuple(row for row in machine_parameter_rows()
                 if row.name.split('.', 1)[0] not in CAMERAS or row.name.split('.', 1)[1]
                 not in camera)
