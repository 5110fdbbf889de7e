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


"""The machine node's parameter table, its config file and the calibration example."""

from __future__ import annotations

from pathlib import Path

import yaml

from picam_ros.machine.calibration import load_machine_calibration
from picam_ros.machine.settings import CAMERAS, machine_parameter_rows, SCENE_FIELDS

ROOT = Path(__file__).parents[1]


def flatten(tree, prefix=''):
    for key, value in tree.items():
        name = f'{prefix}{key}'
        if isinstance(value, dict):
            yield from flatten(value, name + '.')
        else:
            yield name, value


def test_parameter_names_are_unique():
    names = [row.name for row in machine_parameter_rows()]
    assert len(names) == len(set(names))


def test_every_camera_has_the_camera_parameters_and_its_scene_settings():
    names = {row.name for row in machine_parameter_rows()}
    for camera in CAMERAS:
        assert {f'{camera}.source', f'{camera}.width', f'{camera}.encoding',
                f'{camera}.frame_id'} <= names
        assert {f'{camera}.{field}' for field in SCENE_FIELDS[camera]} <= names
    assert 'board.stream.enabled' not in names and 'stream.enabled' in names


def test_the_component_camera_defaults_to_the_up_looking_camera():
    rows = {row.name: row for row in machine_parameter_rows()}
    assert rows['component.extra_args'].default == '--vflip'
    assert rows['component.camera'].default == 1
    assert rows['component.scene'].default == 'part'
    assert rows['board.scene'].default == 'footprint'
    assert rows['stream.path'].default == 'composite'


def test_leads_are_chroma_gated_by_default_and_pads_are_not():
    rows = {row.name: row for row in machine_parameter_rows()}
    assert (rows['leads.u_max'].default, rows['leads.v_min'].default) == (150, 90)
    assert rows['pads.u_max'].default == rows['pads.u_max'].unset


def test_composite_profiles_and_alignment_are_live_and_cameras_are_not():
    rows = {row.name: row for row in machine_parameter_rows()}
    for name in ('composite.mode', 'composite.offset_x', 'composite.crosshair',
                 'leads.luma_min', 'alignment.inlier_tolerance', 'centroid_rate_hz'):
        assert not rows[name].read_only, name
    for name in ('board.width', 'component.source', 'calibration_file', 'stream.path'):
        assert rows[name].read_only, name


def test_machine_yaml_sets_only_declared_parameters_with_valid_values():
    document = yaml.safe_load((ROOT / 'config' / 'machine.yaml').read_text())
    values = dict(flatten(document['/**']['ros__parameters']))
    rows = {row.name: row for row in machine_parameter_rows()}
    assert set(values) <= set(rows), sorted(set(values) - set(rows))
    for name, value in values.items():
        check = rows[name].check(value)
        assert check.ok, check.reason


def test_calibration_example_loads_with_consistent_offsets():
    calibration = load_machine_calibration(ROOT / 'config' / 'machine_calibration.example.yaml')
    assert calibration.down.nozzle == (515.0, 509.0)
    assert calibration.composite_offset() == (8, -8)   # datum - nozzle, even
    assert calibration.crosshair_offset() == (3, -3)
