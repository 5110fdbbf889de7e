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

"""Part alignment: the most leads placed, the least-squares fit of their pairs, ambiguity said.

The cases are real footprints of every family (``picam_ros.machine.alignment_cases``):
rotations over the search range, pick offsets larger than a pitch, lost and stray blobs and noise.
The oracles are independent of the matcher: a maximum bipartite matching says how many leads a
pose can place, and the least-squares fit on the known lead/pad pairs is the right answer.
Property tests are derandomized (the same examples every run) and carry the seeds that once
failed as explicit examples.
"""

from __future__ import annotations

import math

from hypothesis import example, given, settings
from hypothesis import strategies as st
import numpy as np
import pytest

from picam_ros.machine.alignment import align, align_mean, AlignmentParams, rigid_fit
from picam_ros.machine.alignment_cases import FAMILY_NAMES, make_case
from picam_ros.machine.footprint import bga, dual, Footprint, quad, sot23
from picam_ros.machine.verdict import AMBIGUOUS, judge, PASS

TOLERANCE = AlignmentParams().inlier_tolerance
TURN = AlignmentParams().max_rotation_deg     # cases turn over the whole configured range
NOISE_MM = 0.002  # the scene() generator's: 0.1 px at 0.02 mm/px
PROPERTY = settings(max_examples=60, deadline=None, derandomize=True, database=None)


def rotation(degrees: float) -> np.ndarray:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return np.array([[c, -s], [s, c]])


def moved(points, theta, dx, dy):
    return np.asarray(points) @ rotation(theta).T + [dx, dy]


def most_leads_placed(leads, pads, theta, dx, dy, tolerance=TOLERANCE) -> int:
    """Oracle: the largest one-to-one lead/pad matching within `tolerance` at a pose (Kuhn)."""
    at = moved(leads, theta, dx, dy)
    near = np.linalg.norm(at[:, None, :] - pads[None, :, :], axis=2) <= tolerance
    owner = [-1] * len(pads)

    def augment(lead, seen):
        for pad in np.flatnonzero(near[lead]):
            if pad not in seen:
                seen.add(pad)
                if owner[pad] < 0 or augment(owner[pad], seen):
                    owner[pad] = lead
                    return True
        return False

    return sum(augment(lead, set()) for lead in range(len(leads)))


def known_pairs_pose(case):
    angle, shift = rigid_fit(*case.known_pairs)
    return math.degrees(angle), *shift


def deviation(result, case) -> float:
    """Largest distance between where the result and the known-pairs fit put a real lead."""
    real = case.leads[case.lead_pad >= 0]
    return float(np.max(np.linalg.norm(result.apply(real) - moved(real, *known_pairs_pose(case)),
                                       axis=1)))


# -- the generator that found the one-pitch slips (issue 24) --------------------------------

def soic_or_qfp(rng: np.random.Generator) -> np.ndarray:
    """Return the pads of a random SOIC (two rows) or QFP (four sides) footprint in mm."""
    if rng.random() < 0.5:
        n, pitch, span = int(rng.integers(4, 17)), 1.27, rng.uniform(4.0, 7.0)
        along = (np.arange(n) - (n - 1) / 2) * pitch
        pads = np.concatenate([np.c_[along, np.full(n, -span / 2)],
                               np.c_[along, np.full(n, span / 2)]])
    else:
        n, pitch, span = int(rng.integers(6, 21)), rng.choice([0.5, 0.65, 0.8]), 0.0
        along = (np.arange(n) - (n - 1) / 2) * pitch
        span = n * pitch + 1.5
        pads = np.concatenate([np.c_[along, np.full(n, -span / 2)],
                               np.c_[along, np.full(n, span / 2)],
                               np.c_[np.full(n, -span / 2), along],
                               np.c_[np.full(n, span / 2), along]])
    return pads + rng.uniform(-2.0, 2.0, 2)


def scene(seed: int, missing: float = 0.1, extra: float = 0.05):
    """Return leads = pads moved by the inverse of a random correction, noisy, lost, added."""
    rng = np.random.default_rng(seed)
    pads = soic_or_qfp(rng)
    theta, shift = rng.uniform(-5, 5), rng.uniform(-0.5, 0.5, 2)
    leads = (pads - shift) @ rotation(theta)  # R^T (p - t): so R leads + t = pads
    leads += rng.normal(0, NOISE_MM, leads.shape)
    keep = rng.permutation(len(leads))[round(missing * len(leads)):]
    leads = leads[np.sort(keep)]
    for points in ('leads', 'pads'):
        count = math.ceil(extra * len(pads))
        centre = pads.mean(axis=0)
        stray = centre + rng.uniform(-1, 1, (count, 2)) * np.ptp(pads, axis=0) * 0.6
        if points == 'leads':
            leads = np.concatenate([leads, stray])
        else:
            pads = np.concatenate([pads, stray])
    return leads, pads, theta, shift


@pytest.mark.parametrize('seed', [361, 16060, 20310])
def test_a_slip_that_places_every_lead_the_truth_places_is_reported_ambiguous(seed):
    # These scenes sank CI runs: both end leads of the rows are lost, so the part slipped by
    # one 1.27 mm pitch places every lead the true pose places, as tightly. No method can
    # tell them apart; the result must say so and must not pass.
    leads, pads, theta, shift = scene(seed)
    result = align(leads, pads)
    truth = most_leads_placed(leads, pads, theta, *shift)
    assert result.matched == truth
    assert result.ambiguous(0.05) and judge(result).status == AMBIGUOUS
    other = result.competitor
    assert most_leads_placed(leads, pads, other.theta, other.dx, other.dy) == truth
    poses = [(result.dx, result.dy), (other.dx, other.dy)]
    assert min(math.dist(pose, shift) for pose in poses) < 0.005    # one of them is the truth
    assert max(math.dist(pose, shift) for pose in poses) == pytest.approx(1.27, abs=0.01)


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1))
@example(seed=1057)   # a 14-lead part where a gate from the trimmed pairs shut out true leads
@example(seed=361)
@example(seed=16060)
@example(seed=20310)
def test_the_issue_scenes_are_aligned_to_the_truth_or_reported_ambiguous(seed):
    leads, pads, theta, shift = scene(seed)
    result = align(leads, pads)
    if result.ambiguous(0.05):
        return
    assert result.theta == pytest.approx(theta, abs=0.1)
    assert (result.dx, result.dy) == pytest.approx(tuple(shift), abs=0.005)
    assert result.rms < 5 * NOISE_MM


# -- every footprint family -----------------------------------------------------------------

@PROPERTY
@given(family=st.sampled_from(FAMILY_NAMES[2:]), seed=st.integers(0, 2**32 - 1))
def test_no_pose_places_more_leads_than_the_correction(family, seed):
    # Parts of 8 leads and more. On 2- and 3-lead parts a lead counts as placed only where
    # the other leads put it, which a matching at one pose cannot say: the exhaustive oracle
    # of test_alignment_small_parts.py covers them.
    case = make_case(family, seed, max_turn=TURN)
    result = align(case.leads, case.pads)
    assert most_leads_placed(case.leads, case.pads, result.theta, result.dx,
                             result.dy) == result.matched
    assert most_leads_placed(case.leads, case.pads, *known_pairs_pose(case)) <= result.matched


@PROPERTY
@given(family=st.sampled_from(FAMILY_NAMES), seed=st.integers(0, 2**32 - 1))
def test_a_correction_that_passes_puts_every_lead_where_the_known_pairs_fit_does(family, seed):
    case = make_case(family, seed, max_turn=TURN)
    result = align(case.leads, case.pads)
    if judge(result).status == PASS:
        assert deviation(result, case) < 0.05


@PROPERTY
@given(family=st.sampled_from(FAMILY_NAMES), seed=st.integers(0, 2**32 - 1))
def test_an_ambiguous_correction_has_a_distinct_pose_placing_as_many_leads(family, seed):
    case = make_case(family, seed, max_turn=TURN)
    result = align(case.leads, case.pads)
    other = result.competitor
    if not result.ambiguous():
        return
    assert most_leads_placed(case.leads, case.pads, other.theta, other.dx,
                             other.dy) >= result.matched
    corners = case.leads
    apart = np.max(np.linalg.norm(result.apply(corners) - moved(
        corners, other.theta, other.dx, other.dy), axis=1))
    assert apart > TOLERANCE


def slipped_poses(case):
    """Poses a matcher could confuse with the truth: a one-pitch slip, a symmetry turn.

    The known-pairs fit moved by the vector from a pad to its nearest neighbour (every pitch
    of the footprint, both ways), or turned by a quarter turn about the pads' centroid.
    """
    theta, dx, dy = known_pairs_pose(case)
    pads = case.pads[case.lead_pad[case.lead_pad >= 0]]
    gaps = np.linalg.norm(pads[:, None, :] - pads[None, :, :], axis=2)
    np.fill_diagonal(gaps, np.inf)
    steps = pads[np.argmin(gaps, axis=1)] - pads
    for step in np.unique(np.round(np.concatenate([steps, -steps]), 3), axis=0):
        yield theta, dx + step[0], dy + step[1]
    centre = pads.mean(axis=0)
    for turn in (90.0, 180.0, 270.0):
        shift = centre - rotation(turn) @ centre + rotation(turn) @ [dx, dy]
        yield theta + turn, *shift


@PROPERTY
@given(family=st.sampled_from(FAMILY_NAMES), seed=st.integers(0, 2**32 - 1))
def test_a_slip_or_turn_placing_as_many_leads_as_tightly_makes_the_result_ambiguous(
        family, seed):
    # Many leads lost (30%), so that slips and turns that fit as well as the truth happen.
    case = make_case(family, seed, max_turn=TURN, missing=0.3, extra=0.0)
    result = align(case.leads, case.pads)
    rivals = [pose for pose in slipped_poses(case)
              if abs((pose[0] + 180) % 360 - 180) <= TURN and
              most_leads_placed(case.leads, case.pads, *pose, tolerance=0.03) >=
              result.matched]
    if rivals:
        assert judge(result).status == AMBIGUOUS, rivals


@pytest.mark.parametrize('family', FAMILY_NAMES)
def test_with_plain_noise_the_correction_is_the_least_squares_fit_of_the_true_pairs(family):
    # No trimmed share of good pairs: with nothing lost or stray, every pair is in the fit.
    for seed in range(10):
        case = make_case(family, seed, missing=0.0, extra=0.0)
        result = align(case.leads, case.pads)
        theta, dx, dy = known_pairs_pose(case)
        assert result.matched == len(case.leads)
        assert (result.theta, result.dx, result.dy) == pytest.approx((theta, dx, dy),
                                                                     abs=1e-9)


@pytest.mark.parametrize('family', ['soic', 'tssop', 'qfp', 'bga'])
def test_pick_offsets_of_several_pitches_are_found(family):
    for seed in range(5):
        case = make_case(family, seed, max_offset=3.0, missing=0.0, extra=0.0)
        result = align(case.leads, case.pads)
        assert deviation(result, case) < 1e-9


def test_a_row_missing_its_end_lead_on_both_sides_is_ambiguous_and_one_missing_is_not():
    pads = dual(8, 1.27, 5.4)      # rows y = +2.7 (x ascending) and y = -2.7 (x descending)
    leads = pads[[0, 1, 2, 5, 6, 7]]      # both rows lose their x = +1.905 lead
    result = align(leads, pads)
    assert result.ambiguous() and judge(result).status == AMBIGUOUS
    assert sorted([result.dx, result.competitor.dx]) == pytest.approx([0.0, 1.27], abs=1e-9)
    one_row = align(pads[[0, 1, 2, 4, 5, 6, 7]], pads)   # only the top row's end lead lost
    assert not one_row.ambiguous()
    assert (one_row.dx, one_row.dy, one_row.theta) == pytest.approx((0, 0, 0), abs=1e-9)
    # The other row's lead spans the box: the lost lead's pad is under the part, so missing.
    assert (one_row.matched, one_row.expected) == (7, 8)
    assert judge(one_row).status == 'FAIL'


def test_a_lead_missing_inside_the_pattern_is_counted_as_expected_without_a_footprint():
    pads = dual(8, 1.27, 5.4)
    result = align(pads[[0, 2, 3, 4, 5, 6, 7]], pads)
    assert (result.matched, result.expected) == (7, 8)
    assert judge(result).status == 'FAIL'


# -- footprints and any rotation ------------------------------------------------------------

def any_turn_case(leads, seed):
    rng = np.random.default_rng(seed)
    theta = float(rng.uniform(-180, 180))
    shift = rng.uniform(-1.5, 1.5, 2)
    pads = leads + rng.normal(0, 0.005, leads.shape)
    return (pads - shift) @ rotation(theta), pads, theta, shift


@pytest.mark.parametrize('name, leads', [
    ('SOT-23', sot23()),
    ('BGA-8x8 without A1', bga(8, 8, 0.8, missing=((0, 0),))),
])
def test_an_asymmetric_footprint_is_aligned_at_any_rotation(name, leads):
    footprint = Footprint(name, leads)
    assert footprint.symmetries(TOLERANCE) == ()
    for seed in range(12):
        parts, pads, theta, shift = any_turn_case(leads, seed)
        result = align(parts, pads, footprint=footprint)
        assert not result.ambiguous()
        assert judge(result).status == PASS
        assert result.theta == pytest.approx(theta, abs=0.2)
        assert (result.dx, result.dy) == pytest.approx(tuple(shift), abs=0.01)


@pytest.mark.parametrize('name, leads, turns', [
    ('SOIC-8', dual(8, 1.27, 5.4), (180.0,)),
    ('QFP-32', quad(32, 0.8, 8.4), (90.0, 180.0, 270.0)),
    ('BGA-6x6', bga(6, 6, 0.8), (90.0, 180.0, 270.0)),
])
def test_a_symmetric_footprint_at_any_rotation_is_ambiguous_by_a_symmetry_turn(
        name, leads, turns):
    footprint = Footprint(name, leads)
    assert footprint.symmetries(TOLERANCE) == turns
    parts, pads, _, _ = any_turn_case(leads, 3)
    result = align(parts, pads, footprint=footprint)
    assert judge(result).status == AMBIGUOUS
    turn = (result.competitor.theta - result.theta) % 360
    assert min(abs(turn - t) for t in turns) < 0.5


def test_a_symmetric_twin_with_a_pair_just_over_the_residual_limit_is_still_a_rival():
    # Found by bench/alignment.py --footprint: the truth's worst pair was 54.5 um after the
    # fit, the twin's below 50 um; the twin passed. Both are the same noise.
    case = make_case('soic', 277, max_turn=180, missing=0.0, extra=0.0)
    result = align(case.leads, case.pads, footprint=Footprint(case.name, case.footprint))
    assert result.competitor.max_residual > 0.05
    assert judge(result).status == AMBIGUOUS


def test_an_unpolarised_symmetric_part_is_not_ambiguous_and_takes_the_smaller_turn():
    footprint = Footprint('0603', np.array([[-0.8, 0.0], [0.8, 0.0]]), polarised=False)
    parts, pads, theta, _ = any_turn_case(footprint.leads, 5)
    result = align(parts, pads, footprint=footprint)
    assert judge(result).status == PASS
    assert abs(result.theta) <= 90.0 + 1e-9
    assert (result.theta - theta) % 180 == pytest.approx(0, abs=0.5) or (
        (result.theta - theta) % 180 == pytest.approx(180, abs=0.5))


def test_without_a_footprint_the_search_keeps_to_the_rotation_range():
    pads = sot23()
    parts = (pads - [0.3, -0.2]) @ rotation(120.0)
    within = align(parts, pads, AlignmentParams(max_rotation_deg=45.0))
    assert abs(within.theta) <= 45.0 + 1.0       # refinement may turn a little further
    assert judge(within).status != PASS
    result = align(parts, pads, AlignmentParams(max_rotation_deg=180.0))
    assert result.theta == pytest.approx(120.0, abs=1e-9)


def test_the_expected_count_comes_from_the_footprint():
    leads = dual(14, 0.65, 5.8)
    result = align(leads[2:], leads, footprint=Footprint('TSSOP-14', leads, any_rotation=False))
    assert (result.matched, result.expected) == (12, 14)


# -- the pieces ------------------------------------------------------------------------------

def test_original_mean_method_is_exact_on_a_clean_small_motion():
    pads = soic_or_qfp(np.random.default_rng(3))
    leads = (pads - [0.05, -0.03]) @ rotation(0.5)
    result = align_mean(leads, pads)
    assert result.theta == pytest.approx(0.5, abs=1e-9)
    assert (result.dx, result.dy) == pytest.approx((0.05, -0.03), abs=1e-9)


@settings(max_examples=50, deadline=None, derandomize=True, database=None)
@given(seed=st.integers(0, 2**32 - 1), mirrored=st.booleans())
def test_rigid_fit_equals_reflection_safe_svd_kabsch(seed, mirrored):
    rng = np.random.default_rng(seed)
    source = rng.normal(0, 3, (int(rng.integers(3, 30)), 2))
    target = source @ rotation(rng.uniform(-180, 180)).T + rng.normal(0, 2, 2)
    target += rng.normal(0, 0.3, target.shape)
    if mirrored:
        target[:, 0] *= -1  # no rotation explains it; the fit must stay a rotation
    angle, shift = rigid_fit(source, target)
    a, b = source - source.mean(0), target - target.mean(0)
    u, _, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    expected = vt.T @ np.diag([1, d]) @ u.T
    np.testing.assert_allclose(rotation(math.degrees(angle)), expected, atol=1e-9)
    np.testing.assert_allclose(shift, target.mean(0) - expected @ source.mean(0), atol=1e-9)


def test_leads_nowhere_near_the_pads_are_a_lookup_error():
    rng = np.random.default_rng(1)
    pads = rng.uniform(0, 1, (10, 2))
    leads = rng.uniform(0, 1, (10, 2)) * [[50, 0.1]]
    with pytest.raises(LookupError, match='fewer than 2 leads land on pads'):
        align(leads, pads, AlignmentParams(inlier_tolerance=0.001))


@pytest.mark.parametrize('leads, message', [
    (np.zeros((3, 3)), r'leads: expected an \(N, 2\) array'),
    (np.zeros((1, 2)), 'leads: need at least 2 points'),
    ([[0.0, np.nan], [1.0, 1.0]], 'leads: points must be finite'),
])
def test_bad_point_sets_are_named(leads, message):
    with pytest.raises(ValueError, match=message):
        align(leads, np.zeros((4, 2)) + np.arange(4)[:, None])


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match='gate_sigmas: 1 is below the minimum 2'):
        AlignmentParams(gate_sigmas=1.0)


@pytest.mark.parametrize(('family', 'seed'), [('tssop', 642), ('tssop', 822), ('qfp', 549),
                                              ('soic', 781)])
def test_a_turned_symmetric_part_is_ambiguous_even_when_a_stray_tips_the_count(
        family, seed):
    """Whichever of a symmetric part's twins places more, the footprint says pin 1 is unknown.

    bench/alignment.py --footprint --max-turn 180 seeds where the turned twin placed one
    stray pair more than the truth and was returned 7-13 mm off.
    """
    case = make_case(family, seed, max_turn=180, max_offset=1.5, noise=0.01, missing=0.1,
                     extra=0.05)
    result = align(case.leads, case.pads, footprint=Footprint(case.name, case.footprint))
    assert result.turned_twin
    assert judge(result).status == AMBIGUOUS
