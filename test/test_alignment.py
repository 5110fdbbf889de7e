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

"""Part alignment recovers a known rigid correction from leads and pads with blobs gone astray."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest

from picam_ros.alignment import align, align_mean, AlignmentParams, rigid_fit

NOISE_MM = 0.002  # 0.1 px at 0.02 mm/px: centroid noise


def footprint(rng: np.random.Generator) -> np.ndarray:
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


def rotation(degrees: float) -> np.ndarray:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return np.array([[c, -s], [s, c]])


def scene(seed: int, missing: float = 0.1, extra: float = 0.05):
    """Return leads = pads moved by the inverse of a random correction, noisy, lost, added."""
    rng = np.random.default_rng(seed)
    pads = footprint(rng)
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


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_align_recovers_the_correction_with_missing_and_extra_blobs(seed):
    leads, pads, theta, shift = scene(seed)
    result = align(leads, pads)
    # Noise-limited: a 4-lead SOIC with 0.1 px noise has ~0.01 deg / 0.001 mm of spread, so
    # these bounds are several sigma; bench/alignment.py measures the RMS over 200 scenes.
    assert result.theta == pytest.approx(theta, abs=0.1)
    assert (result.dx, result.dy) == pytest.approx(tuple(shift), abs=0.005)
    assert result.rms < 5 * NOISE_MM
    assert result.matched >= int(0.7 * 0.9 * len(pads))


def test_moved_leads_land_on_their_pads():
    leads, pads, _, _ = scene(7, missing=0.0, extra=0.0)
    result = align(leads, pads)
    np.testing.assert_allclose(result.apply(leads), pads, atol=5 * NOISE_MM)
    assert len(pads) - result.matched <= math.ceil(0.1 * len(pads)) + 1  # the trimmed pairs


def test_original_mean_method_is_exact_on_a_clean_small_motion():
    rng = np.random.default_rng(3)
    pads = footprint(rng)
    leads = (pads - [0.05, -0.03]) @ rotation(0.5)
    result = align_mean(leads, pads)
    assert result.theta == pytest.approx(0.5, abs=1e-9)
    assert (result.dx, result.dy) == pytest.approx((0.05, -0.03), abs=1e-9)


@settings(max_examples=50, deadline=None)
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
    with pytest.raises(ValueError, match='trim_fraction: 1 is above the maximum 0.9'):
        AlignmentParams(trim_fraction=1.0)
