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

"""Parameter tables built from config metadata, keying profiles and frame decimation."""

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import yaml

from picam_ros.camera.settings import camera_parameter_rows, CameraSettings
from picam_ros.centroids.engine import KeyingParams
from picam_ros.centroids.settings import centroid_parameter_rows, KeyingProfiles
from picam_ros.core.pacing import DECIMATION_ROWS, DecimationConfig, Decimator
from picam_ros.core.params import (
    config_from_rows,
    config_with_changes,
    markdown_table,
    ParamRow,
    rows_from_config,
)
from picam_ros.ros.launch_support import (
    CAMERA_LAUNCH_ARGUMENTS,
    LAUNCH_ARGUMENTS,
    launch_overrides,
)
from picam_ros.sources import SourceConfig

FRAME_NS = 40_000_000  # 25 fps
CONFIG = Path(__file__).resolve().parent.parent / 'config'


def row(profiles, name):
    return next(r for r in profiles.all_rows() if r.name == name)


def test_every_keying_field_becomes_a_parameter_with_its_default_and_description():
    profiles = KeyingProfiles(['pads'])
    defaults = KeyingParams()
    for f in dataclasses.fields(KeyingParams):
        r = row(profiles, f'pads.{f.name}')
        assert r.from_ros(r.default) == getattr(defaults, f.name)
        assert r.description == f.metadata['description']
    assert row(profiles, 'pads.luma_min').descriptor_fields()['integer_range'] == (0, 255, 1)


def test_unset_chroma_gate_is_minus_one_and_inside_the_declared_range():
    r = row(KeyingProfiles(['pads']), 'pads.u_max')
    assert (r.kind, r.default) == ('integer', -1)
    assert r.from_ros(-1) is None and r.from_ros(140) == 140
    assert r.descriptor_fields()['integer_range'] == (-1, 255, 1)
    assert '-1 = not set' in r.descriptor_fields()['additional_constraints']


def test_connectivity_range_admits_only_four_and_eight():
    r = row(KeyingProfiles(['pads']), 'pads.connectivity')
    assert r.descriptor_fields()['integer_range'] == (4, 8, 4)
    assert not r.check(6).ok


def test_roi_of_zeros_means_the_whole_frame():
    r = row(KeyingProfiles(['pads']), 'pads.roi')
    assert (r.kind, r.default) == ('integer_array', [0, 0, 0, 0])
    assert r.from_ros([0, 0, 0, 0]) is None and r.from_ros([]) is None
    assert r.from_ros([10, 20, 30, 40]) == (10, 20, 30, 40)
    assert r.to_ros((10, 20, 30, 40)) == [10, 20, 30, 40]


@pytest.mark.parametrize('name, value, reason', [
    ('pads.luma_min', 150.0, 'expected integer'),
    ('pads.luma_min', True, 'expected integer'),
    ('pads.luma_min', 300, 'above the maximum 255'),
    ('pads.u_min', -2, 'below the minimum 0'),
    ('pads.invert', 1, 'expected bool'),
    ('pads.roi', ['a'], 'expected integer array'),
])
def test_wrongly_typed_or_out_of_range_values_are_rejected_with_a_reason(name, value, reason):
    check = row(KeyingProfiles(['pads']), name).check(value)
    assert not check.ok
    assert name in check.reason and reason in check.reason


def test_profile_names_must_be_unique_valid_and_present():
    with pytest.raises(ValueError, match='at least one'):
        KeyingProfiles([])
    with pytest.raises(ValueError, match="'2pads' is not a valid profile name"):
        KeyingProfiles(['2pads'])
    with pytest.raises(ValueError, match='duplicate'):
        KeyingProfiles(['pads', 'pads'])


def test_first_profile_publishes_on_the_plain_topics_and_others_under_their_name():
    profiles = KeyingProfiles(['pads', 'leads'])
    assert profiles.topics('pads') == ('centroids', 'debug_image')
    assert profiles.topics('leads') == ('leads/centroids', 'leads/debug_image')


def test_profiles_are_built_from_parameter_values_with_defaults_for_the_rest():
    profiles = KeyingProfiles(['pads', 'leads'])
    built = profiles.build({'pads.luma_min': 200, 'leads.v_min': 90, 'leads.u_max': 150,
                            'leads.roi': [0, 0, 0, 0]})
    assert built['pads'] == KeyingParams(luma_min=200)
    assert built['leads'] == KeyingParams(v_min=90, u_max=150)


def test_an_inconsistent_profile_fails_to_build_naming_the_profile():
    with pytest.raises(ValueError, match='^pads.luma_min: '):
        KeyingProfiles(['pads']).build({'pads.luma_min': 200, 'pads.luma_max': 100})


def test_proposed_threshold_change_yields_the_new_profile_and_leaves_the_current_one():
    profiles = KeyingProfiles(['pads', 'leads'])
    current = profiles.build({})
    proposal = profiles.propose(current, {'pads.luma_min': 220})
    assert proposal.ok
    assert proposal.profiles['pads'].luma_min == 220
    assert proposal.profiles['leads'] is current['leads']
    assert current['pads'].luma_min == 150


def test_inverted_range_is_rejected_naming_profile_and_field():
    profiles = KeyingProfiles(['pads'])
    proposal = profiles.propose(profiles.build({}), {'pads.luma_max': 100})
    assert not proposal.ok
    assert proposal.reason == 'pads.luma_min: 150 is greater than pads.luma_max 100'


def test_both_range_ends_can_move_past_each_other_in_one_request():
    profiles = KeyingProfiles(['pads'])
    current = profiles.build({'pads.luma_min': 10, 'pads.luma_max': 20})
    proposal = profiles.propose(current, {'pads.luma_min': 100, 'pads.luma_max': 120})
    assert proposal.ok and proposal.profiles['pads'].luma_min == 100


def test_parameters_of_other_owners_pass_through_untouched():
    profiles = KeyingProfiles(['pads'])
    current = profiles.build({})
    proposal = profiles.propose(current, {'max_rate_hz': 5.0, 'use_sim_time': True})
    assert proposal.ok and proposal.profiles == current


def test_source_config_rows_carry_kinds_ranges_and_choices():
    rows = {r.name: r for r in rows_from_config(SourceConfig, read_only=True)}
    assert rows['source'].choices == ('synthetic', 'rpicam', 'ffmpeg')
    assert not rows['source'].check('webcam').ok
    assert rows['fps'].kind == 'double' and rows['width'].kind == 'integer'
    assert rows['width'].descriptor_fields()['read_only'] is True


def test_an_optional_field_whose_range_contains_minus_one_needs_an_explicit_sentinel():
    @dataclass(frozen=True)
    class Offset:
        dx: int | None = field(default=None, metadata={'min': -10, 'max': 10})

    with pytest.raises(ValueError, match='dx: -1 is a valid value'):
        rows_from_config(Offset)


def test_optional_string_maps_to_empty_string():
    @dataclass(frozen=True)
    class Paths:
        config_file: str | None = field(default=None, metadata={'description': 'file'})

    (r,) = rows_from_config(Paths)
    assert (r.kind, r.default, r.from_ros('')) == ('string', '', None)
    assert r.from_ros('/tmp/x.yml') == '/tmp/x.yml'


def test_row_kinds_are_checked_at_construction():
    with pytest.raises(ValueError, match='unknown parameter kind'):
        ParamRow('x', 'float', 0.0, '')


def test_decimation_rows_are_live_and_ranged():
    rows = {r.name: r for r in DECIMATION_ROWS}
    assert rows['process_every_n'].descriptor_fields()['integer_range'] == (1, 1000, 1)
    assert rows['max_rate_hz'].descriptor_fields()['floating_point_range'] == (0.0, 1000.0, 0.0)
    assert not any(r.read_only for r in DECIMATION_ROWS)


def test_decimation_config_rejects_nonsense_naming_the_field():
    with pytest.raises(ValueError, match='process_every_n'):
        DecimationConfig(process_every_n=0)
    with pytest.raises(ValueError, match='max_rate_hz'):
        DecimationConfig(max_rate_hz=float('nan'))
    assert DecimationConfig(max_rate_hz=5).max_rate_hz == 5.0


def feed(decimator, frames, period_ns=FRAME_NS, jitter_ns=0):
    kept = []
    for i in range(frames):
        jitter = jitter_ns if i % 2 else -jitter_ns
        if decimator.accept(i * period_ns + jitter):
            kept.append(i)
    return kept


def test_by_default_every_frame_is_processed():
    decimator = Decimator()
    assert feed(decimator, 10) == list(range(10))
    assert decimator.skipped == 0


def test_process_every_n_keeps_one_frame_in_n():
    decimator = Decimator(DecimationConfig(process_every_n=3))
    assert feed(decimator, 10) == [0, 3, 6, 9]
    assert (decimator.received, decimator.processed, decimator.skipped) == (10, 4, 6)


def test_max_rate_holds_the_rate_despite_arrival_jitter():
    decimator = Decimator(DecimationConfig(max_rate_hz=5.0))
    kept = feed(decimator, 250, jitter_ns=3_000_000)  # 10 s at 25 fps, +-3 ms
    assert len(kept) == 50
    assert set(np.diff(kept)) == {5}


def test_rate_limit_applies_to_the_frames_that_pass_the_count():
    decimator = Decimator(DecimationConfig(process_every_n=2, max_rate_hz=5.0))
    kept = feed(decimator, 250)
    assert len(kept) == 50 and all(i % 2 == 0 for i in kept)


def test_reconfiguring_takes_effect_on_the_next_frame():
    decimator = Decimator(DecimationConfig(process_every_n=10))
    assert feed(decimator, 3) == [0]
    decimator.configure(DecimationConfig())
    assert decimator.accept(3 * FRAME_NS)


def test_launch_arguments_become_typed_camera_parameters():
    overrides = launch_overrides({'source': 'rpicam', 'width': '1920', 'height': '1920',
                                  'fps': '30', 'camera': '1', 'stream': 'False',
                                  'centroid_rate_hz': '2.5'})
    assert overrides == {'source': 'rpicam', 'width': 1920, 'height': 1920, 'fps': 30.0,
                         'camera': 1, 'stream.enabled': False, 'throttle_rate_hz': 2.5}


def test_empty_launch_arguments_leave_the_parameter_files_in_charge():
    assert launch_overrides({'source': '', 'width': ' ', 'stream': ''}) == {}


@pytest.mark.parametrize('argument, text', [
    ('width', '1024.5'), ('fps', 'fast'), ('stream', 'maybe'), ('fps', 'nan')])
def test_malformed_launch_arguments_are_refused_naming_argument_and_parameter(argument, text):
    parameter = {'stream': 'stream.enabled'}.get(argument, argument)
    with pytest.raises(ValueError, match=f'launch argument {argument}:=.*{parameter}'):
        launch_overrides({argument: text})


def parameter_file_section(node):
    with open(CONFIG / 'picam.yaml') as stream:
        document = yaml.safe_load(stream)
    return flatten(document[f'/**/{node}']['ros__parameters'])


def flatten(tree, prefix=''):
    """Turn nested YAML keys into dotted parameter names, as rcl does."""
    flat = {}
    for key, value in tree.items():
        name = f'{prefix}{key}'
        if isinstance(value, dict):
            flat.update(flatten(value, name + '.'))
        else:
            flat[name] = value
    return flat


def test_every_centroid_parameter_in_picam_yaml_is_declared_and_valid():
    values = parameter_file_section('centroids')
    rows = {r.name: r for r in centroid_parameter_rows(values['profiles'])}
    assert set(values) <= set(rows), set(values) - set(rows)
    for name, value in values.items():
        assert rows[name].check(value).ok, rows[name].check(value).reason
    assert KeyingProfiles(values['profiles']).build(values)['pads'] == KeyingParams()


def test_every_camera_parameter_in_picam_yaml_is_declared_and_valid():
    values = parameter_file_section('camera')
    rows = {r.name: r for r in camera_parameter_rows()}
    assert set(values) <= set(rows), set(values) - set(rows)
    for name, value in values.items():
        assert rows[name].check(value).ok, rows[name].check(value).reason
    settings = CameraSettings.from_parameters(values)
    assert settings.source.source == 'synthetic' and settings.throttle_rate_hz == 5.0


@pytest.mark.parametrize('node', ['camera', 'centroids'])
def test_picam_yaml_holds_the_schema_defaults(node):
    values = parameter_file_section(node)
    rows = camera_parameter_rows() if node == 'camera' else centroid_parameter_rows(['pads'])
    defaults = {row.name: row.default for row in rows}
    assert {name: defaults[name] for name in values} == values


def test_two_camera_overrides_name_declared_parameters():
    with open(CONFIG / 'two_cameras.yaml') as stream:
        document = yaml.safe_load(stream)
    for node, section in document.items():
        values = flatten(section['ros__parameters'])
        if node.endswith('/camera'):
            rows = {r.name: r for r in camera_parameter_rows()}
        else:
            rows = {r.name: r for r in centroid_parameter_rows(values['profiles'])}
        for name, value in values.items():
            assert name in rows and rows[name].check(value).ok, (node, name)
    leads = flatten(document['/component/centroids']['ros__parameters'])
    assert KeyingProfiles(['leads']).build(leads)['leads'].uses_chroma


def test_parameter_table_lists_every_row_with_its_default_and_liveness():
    rows = centroid_parameter_rows(['pads'])
    table = markdown_table(rows).splitlines()
    assert len(table) == 2 + len(rows)
    luma_min = next(line for line in table if line.startswith('| `pads.luma_min`'))
    assert '| integer | `150` | 0 .. 255 | yes |' in luma_min
    profiles = next(line for line in table if line.startswith('| `profiles`'))
    assert "`['pads']`" in profiles and '| no |' in profiles


def test_the_width_descriptor_states_the_range_each_source_accepts():
    width = {row.name: row for row in camera_parameter_rows()}['width']
    assert 'synthetic 256..8192' in width.description
    assert 'synthetic 256..8192' in width.descriptor_fields()['description']
    with pytest.raises(ValueError, match=r'^width: 128 is below the minimum 256 \(the synthetic'):
        CameraSettings.from_parameters({'width': 128})


def test_launch_arguments_are_the_rows_that_declare_one():
    rows = {row.launch: row for row in camera_parameter_rows() if row.launch}
    assert CAMERA_LAUNCH_ARGUMENTS == {name: (row.name, row.kind) for name, row in rows.items()}
    assert set(rows) == {'source', 'width', 'height', 'fps', 'camera', 'pipe', 'stream',
                         'stream_scale',
                         'centroid_rate_hz', 'inprocess_centroids', 'inprocess_rate_hz'}
    assert LAUNCH_ARGUMENTS['width'][1].startswith(rows['width'].description)


def test_one_validator_words_config_and_parameter_errors_alike():
    row = {r.name: r for r in KeyingProfiles(['pads']).all_rows()}['pads.luma_min']
    assert row.check(300).reason == 'pads.luma_min: 300 is above the maximum 255'
    with pytest.raises(ValueError, match='^luma_min: 300 is above the maximum 255$'):
        KeyingParams(luma_min=300)


def test_a_config_built_from_rows_names_a_rule_between_fields_as_the_user_typed_it():
    rows = rows_from_config(KeyingParams, prefix='pads')
    with pytest.raises(ValueError, match=r'^pads\.luma_min: 200 is greater than pads\.luma_max '
                                         r'100$'):
        config_from_rows(KeyingParams, rows, {'pads.luma_min': 200, 'pads.luma_max': 100})


def test_a_live_change_that_breaks_a_rule_leaves_the_current_config():
    rows = rows_from_config(KeyingParams, prefix='pads')
    current = config_from_rows(KeyingParams, rows, {})
    with pytest.raises(ValueError, match='pads.luma_min: 200 is greater than pads.luma_max'):
        config_with_changes(current, rows, {'pads.luma_min': 200, 'pads.luma_max': 100})
    changed = config_with_changes(current, rows, {'pads.luma_min': 20, 'pads.luma_max': 30})
    assert (changed.luma_min, changed.luma_max) == (20, 30)
    assert current == config_from_rows(KeyingParams, rows, {})
