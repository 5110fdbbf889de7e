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

"""The verdict on a correction: PASS only when nothing speaks against it, and why not."""

from __future__ import annotations

import json

import numpy as np
import pytest

from picam_ros.machine.alignment import align
from picam_ros.machine.footprint import dual, Footprint, quad
from picam_ros.machine.verdict import (
    AMBIGUOUS,
    FAIL,
    judge,
    PASS,
    VERDICT_KEYS,
    verdict_values,
    VerdictParams,
)


def turned(points, degrees, shift):
    angle = np.radians(degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return (np.asarray(points) - shift) @ rotation     # so that R leads + shift = points


PADS = quad(32, 0.8, 8.4)
LEADS = turned(PADS, 3.0, [0.2, -0.1])


def test_a_part_whose_every_lead_lands_on_its_pad_passes():
    verdict = judge(align(LEADS, PADS))
    assert verdict.status == PASS and verdict.passed
    assert verdict.reason == '32 of 32 leads within 50 um'


def test_a_lead_off_its_pad_by_more_than_the_limit_fails_naming_the_residual():
    leads = LEADS.copy()
    leads[5] += [0.08, 0.0]        # a bent lead: 80 um, within the 150 um inlier tolerance
    verdict = judge(align(leads, PADS))
    assert verdict.status == FAIL
    assert 'max residual' in verdict.reason and '> 50.0 um' in verdict.reason
    assert judge(align(leads, PADS), VerdictParams(max_residual_mm=0.1)).status == PASS


def test_missing_leads_fail_unless_allowed():
    alignment = align(LEADS[1:], PADS, footprint=Footprint('QFP-32', PADS, any_rotation=False))
    assert (alignment.matched, alignment.expected) == (31, 32)
    assert judge(alignment).status == FAIL
    assert '1 of 32 leads not on a pad (allowed 0)' in judge(alignment).reason
    assert judge(alignment, VerdictParams(missing_allowed=1)).status == PASS


def test_a_blob_on_the_part_that_lands_on_no_pad_fails_unless_allowed():
    leads = np.concatenate([LEADS, [LEADS[:8].mean(axis=0) + [0.0, 0.4]]])   # dust
    alignment = align(leads, PADS)
    assert alignment.unplaced == 1
    assert judge(alignment).status == FAIL
    assert judge(alignment, VerdictParams(unplaced_allowed=1)).status == PASS


def test_a_slip_as_good_as_the_truth_is_ambiguous_and_never_a_pass():
    pads = dual(8, 1.27, 5.4)
    alignment = align(pads[[0, 1, 2, 5, 6, 7]], pads)     # both rows lose the same end lead
    verdict = judge(alignment, VerdictParams(missing_allowed=8, unplaced_allowed=8))
    assert verdict.status == AMBIGUOUS and not verdict.passed
    assert 'places 6 leads as well' in verdict.reason


def test_values_carry_every_documented_key_and_the_residual_of_each_pair():
    leads = LEADS.copy()
    leads[0] += [0.003, -0.004]
    alignment = align(leads, PADS)
    values = verdict_values(judge(alignment), PADS)
    assert tuple(values) == VERDICT_KEYS
    assert values['verdict'] == PASS and values['competitor'] == ''
    assert (values['matched'], values['expected'], values['missing']) == (32, 32, 0)
    residuals = json.loads(values['residuals_um'])
    assert len(residuals) == 32
    by_pad = {(x, y): (ex, ey) for x, y, ex, ey in residuals}
    expected = PADS[alignment.pad_index] - alignment.apply(leads[alignment.lead_index])
    for (x, y), (ex, ey) in zip(PADS[alignment.pad_index], expected, strict=True):
        assert by_pad[(round(x, 4), round(y, 4))] == pytest.approx(
            (1000 * ex, 1000 * ey), abs=0.01)
    assert values['max_residual_um'] == pytest.approx(
        1000 * np.max(np.linalg.norm(expected, axis=1)), abs=1e-3)
    assert values['rms_um'] == pytest.approx(
        1000 * np.sqrt(np.mean(np.sum(expected ** 2, axis=1))), abs=1e-3)


def test_the_competitor_is_published_as_five_numbers():
    pads = dual(8, 1.27, 5.4)
    alignment = align(pads[[0, 1, 2, 5, 6, 7]], pads)
    dx, _, _, matched, worst = verdict_values(judge(alignment), pads)['competitor'].split()
    assert float(dx) == pytest.approx(alignment.competitor.dx)
    assert int(matched) == 6 and float(worst) == pytest.approx(0.0, abs=1e-6)
