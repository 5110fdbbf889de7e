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

"""Footprint files: lead centres or a family, and the turns that map a part onto itself."""

from __future__ import annotations

import numpy as np
import pytest

from picam_ros.machine.footprint import (
    bga,
    chip,
    dual,
    Footprint,
    load_footprint,
    parse_footprint,
    quad,
    sot23,
)

TOLERANCE = 0.15


@pytest.mark.parametrize('leads, turns', [
    (chip(1.0), (180.0,)),
    (sot23(), ()),
    (dual(8, 1.27, 5.4), (180.0,)),
    (quad(64, 0.5, 11.4), (90.0, 180.0, 270.0)),
    (quad(32, 0.5, 4.9, centre_pad=True), (90.0, 180.0, 270.0)),
    (bga(10, 10, 0.8), (90.0, 180.0, 270.0)),
    (bga(4, 6, 0.8), (180.0,)),
    (bga(8, 8, 0.8, missing=((0, 0),)), ()),
])
def test_symmetries_are_the_quarter_turns_that_map_the_leads_onto_themselves(leads, turns):
    assert Footprint('part', leads).symmetries(TOLERANCE) == turns


def test_families_have_their_pin_counts_and_pitch():
    leads = dual(14, 0.65, 5.8)
    assert len(leads) == 14
    top = np.sort(leads[leads[:, 1] > 0][:, 0])
    np.testing.assert_allclose(np.diff(top), 0.65)
    assert len(quad(48, 0.4, 6.9, centre_pad=True)) == 49
    assert len(bga(10, 10, 0.8, missing=((0, 0), (9, 9)))) == 98


def test_a_file_of_lead_centres_is_read_with_its_flags(tmp_path):
    path = tmp_path / 'sot23.yaml'
    path.write_text('name: SOT-23\nleads: [[-0.95, 1.05], [0.95, 1.05], [0, -1.05]]\n'
                    'polarised: true\nany_rotation: false\n')
    footprint = load_footprint(path)
    assert footprint.name == 'SOT-23' and footprint.count == 3
    assert footprint.polarised and not footprint.any_rotation
    np.testing.assert_allclose(footprint.leads, sot23(span=2.1))


def test_a_family_file_generates_the_leads():
    footprint = parse_footprint('family: bga\nrows: 3\ncolumns: 3\npitch: 0.8\n'
                                'missing: [[0, 0]]\n', 'bga.yaml')
    assert footprint.name == 'bga' and footprint.count == 8
    assert footprint.polarised and footprint.any_rotation


@pytest.mark.parametrize('text, message', [
    ('- 1\n- 2\n', 'expected a mapping'),
    ('name: x\n', 'expected leads'),
    ('leads: [[0, 0]]\n', 'at least 2'),
    ('leads: [[0, 0], [1, 1]]\npitch: 1\n', r"unknown key\(s\) \['pitch'\]"),
    ('family: dip\npins: 8\n', "family: 'dip' is not one of"),
    ('family: dual\npins: 7\npitch: 1.27\nspan: 5\n', 'pins must be even'),
    ('family: dual\npins: 8\n', 'family dual: .*pitch'),
    ('leads: [[0, 0], [1, 1]]\npolarised: maybe\n', 'polarised: expected true or false'),
    ('leads: [[0, 0], [1, .nan]]\n', 'finite'),
])
def test_bad_files_are_named_with_the_problem(text, message):
    with pytest.raises(ValueError, match=message) as error:
        parse_footprint(text, 'part.yaml')
    assert str(error.value).startswith('part.yaml: ')


def test_an_unreadable_file_is_named(tmp_path):
    with pytest.raises(ValueError, match='cannot read the footprint'):
        load_footprint(tmp_path / 'absent.yaml')
