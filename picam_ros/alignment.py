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

"""Part alignment: the correction that puts a part's leads (up camera) on its pads (down camera).

Both point sets are in millimetres relative to the nozzle (``picam_ros.machine_calibration``),
in a common frame. The correction is the rigid transform ``pads ~= R(theta) @ leads + (dx, dy)``
(rotation about the nozzle): rotate the part by ``theta`` and move it by ``(dx, dy)``.

``align`` (ours): a RANSAC start (pairs of leads matched to pad pairs of the same length, each
hypothesis scored by how many leads land on a pad), then ICP-style refinement: mutual
nearest-neighbour correspondences, gated (first by ``inlier_tolerance``, then by 4 x the
median residual) and trimmed to the best ``1 - trim_fraction``, and a least-squares rigid fit
(2-D Kabsch: the closed form ``theta = atan2(sum cross, sum dot)`` of the centred pairs, a
proper rotation by construction, so no reflection can come out), repeated until the pairs stop
changing. Reports the residual
RMS and the matched count. Robust to missing and extra blobs on either side.

``align_mean`` (the original machine's method, kept as the peer): each lead to its nearest pad,
mean translation and mean rotation of the matched pairs about their centroids.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any

import numpy as np

from picam_ros.config import config_field, ConfigBase

__all__ = ['Alignment', 'AlignmentParams', 'align', 'align_mean', 'rigid_fit']


@dataclass(frozen=True)
class AlignmentParams(ConfigBase):
    """Tuning of ``align``; lengths in the points' unit (mm)."""

    inlier_tolerance: float = config_field(
        0.15, 'A lead within this distance of a pad counts as placed on it (mm).', low=1e-9)
    max_rotation_deg: float = config_field(
        45.0, 'Hypotheses turning the part further than this are not considered (degrees).',
        low=1e-9, high=180.0)
    trim_fraction: float = config_field(
        0.1, 'Worst fraction of the matched pairs left out of each fit.', low=0.0, high=0.9)
    ransac_iterations: int = config_field(60, 'Two-lead samples tried for the start.', low=1,
                                          high=100_000)
    max_iterations: int = config_field(50, 'Refinement iterations at most.', low=1,
                                       high=10_000)
    seed: int = config_field(0, 'Seed of the sampling (results are reproducible).', low=0)


@dataclass(frozen=True)
class Alignment:
    """The correction: ``pads ~= R(theta) @ leads + (dx, dy)``."""

    dx: float
    dy: float
    theta: float          # degrees, counter-clockwise in the points' axes
    rms: float            # residual RMS of the matched pairs (points' unit)
    matched: int          # lead/pad pairs used in the final fit
    lead_index: np.ndarray
    pad_index: np.ndarray

    def apply(self, points: Any) -> np.ndarray:
        """Move `points` (N, 2) by the correction."""
        return _transform(np.asarray(points, np.float64), math.radians(self.theta),
                          np.array([self.dx, self.dy]))


def rigid_fit(source: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """Least-squares rotation (radians) and translation with ``target ~= R source + t``.

    2-D Kabsch/Umeyama without scale: with centred pairs a, b the optimal angle is
    ``atan2(sum a x b, sum a . b)``, always a proper rotation (no reflection case to repair).
    """
    if len(source) < 1:
        raise ValueError('rigid_fit: no point pairs')
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    a, b = source - source_mean, target - target_mean
    cross = float(np.sum(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]))
    dot = float(np.sum(a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1]))
    angle = math.atan2(cross, dot) if len(source) > 1 else 0.0
    return angle, target_mean - _rotation(angle) @ source_mean


def align(leads: Any, pads: Any, params: AlignmentParams | None = None) -> Alignment:
    """Robust rigid correction of `leads` onto `pads` (see the module docstring)."""
    params = params or AlignmentParams()
    leads, pads = _checked(leads, 'leads'), _checked(pads, 'pads')
    angle, shift = _ransac_start(leads, pads, params)
    previous = None
    lead_index = pad_index = np.zeros(0, np.intp)
    # Pairs farther apart than `gate` are not the same lead. It starts at the tolerance and then
    # follows the residuals: 4 x their median (4.7 sigma for 2-D Gaussian noise, whose distance
    # median is 1.18 sigma), so a stray blob next to a pad drops out once the fit is close.
    gate = params.inlier_tolerance
    for _ in range(params.max_iterations):
        lead_index, pad_index, residual = _mutual_pairs(
            _transform(leads, angle, shift), pads)
        keep = residual <= gate
        if params.trim_fraction and keep.sum() > 4:
            keep &= residual <= np.quantile(residual[keep], 1 - params.trim_fraction)
        lead_index, pad_index = lead_index[keep], pad_index[keep]
        if len(lead_index) < 2:
            break
        angle, shift = rigid_fit(leads[lead_index], pads[pad_index])
        fitted = np.linalg.norm(pads[pad_index] - _transform(leads[lead_index], angle, shift),
                                axis=1)
        gate = min(params.inlier_tolerance, max(4 * float(np.median(fitted)), 1e-12))
        pairs = (tuple(lead_index), tuple(pad_index))
        if pairs == previous:
            break
        previous = pairs
    if len(lead_index) < 2:
        raise LookupError(f'align: fewer than 2 leads land on pads ({len(leads)} leads, '
                          f'{len(pads)} pads); is the part on the nozzle?')
    residuals = pads[pad_index] - _transform(leads[lead_index], angle, shift)
    rms = float(np.sqrt(np.mean(np.sum(residuals ** 2, axis=1))))
    return Alignment(float(shift[0]), float(shift[1]), math.degrees(angle), rms,
                     len(lead_index), lead_index, pad_index)


def align_mean(leads: Any, pads: Any) -> Alignment:
    """Align by the original method: nearest pad per lead, mean translation, mean rotation.

    The rotation is the mean of the pairs' angle differences about the matched leads' and
    pads' centroids, the translation the mean of (pad - lead); expressed here as the same
    rotation-about-the-nozzle correction as ``align`` so the two compare directly.
    """
    leads, pads = _checked(leads, 'leads'), _checked(pads, 'pads')
    distance = np.linalg.norm(leads[:, None, :] - pads[None, :, :], axis=2)
    pad_index = np.argmin(distance, axis=1)
    matched = pads[pad_index]
    lead_centre, pad_centre = leads.mean(axis=0), matched.mean(axis=0)
    a, b = leads - lead_centre, matched - pad_centre
    turn = np.arctan2(b[:, 1], b[:, 0]) - np.arctan2(a[:, 1], a[:, 0])
    turn = np.angle(np.exp(1j * turn))  # each difference wrapped to (-pi, pi]
    angle = float(np.mean(turn))
    translation = np.mean(matched - leads, axis=0)
    # Rotation about the lead centroid, then the mean translation, as one transform.
    shift = lead_centre + translation - _rotation(angle) @ lead_centre
    residuals = matched - _transform(leads, angle, shift)
    rms = float(np.sqrt(np.mean(np.sum(residuals ** 2, axis=1))))
    return Alignment(float(shift[0]), float(shift[1]), math.degrees(angle), rms, len(leads),
                     np.arange(len(leads)), pad_index)


def _rotation(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


def _transform(points: np.ndarray, angle: float, shift: np.ndarray) -> np.ndarray:
    return points @ _rotation(angle).T + shift


def _checked(points: Any, name: str) -> np.ndarray:
    array = np.asarray(points, np.float64)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f'{name}: expected an (N, 2) array of points, got shape {array.shape}')
    if len(array) < 2:
        raise ValueError(f'{name}: need at least 2 points to fix a rotation, got {len(array)}')
    if not np.isfinite(array).all():
        raise ValueError(f'{name}: points must be finite')
    return array


def _mutual_pairs(moved: np.ndarray, pads: np.ndarray) -> tuple[np.ndarray, ...]:
    """Pairs (lead, pad) that are each other's nearest neighbour, with their distance."""
    distance = np.linalg.norm(moved[:, None, :] - pads[None, :, :], axis=2)
    nearest_pad = np.argmin(distance, axis=1)
    nearest_lead = np.argmin(distance, axis=0)
    leads = np.flatnonzero(nearest_lead[nearest_pad] == np.arange(len(moved)))
    return leads, nearest_pad[leads], distance[leads, nearest_pad[leads]]


def _inliers(moved: np.ndarray, pads: np.ndarray, tolerance: float) -> tuple[int, float]:
    distance = np.min(np.linalg.norm(moved[:, None, :] - pads[None, :, :], axis=2), axis=1)
    close = distance <= tolerance
    return int(close.sum()), float(np.sum(distance[close] ** 2))


def _ransac_start(leads: np.ndarray, pads: np.ndarray,
                  params: AlignmentParams) -> tuple[float, np.ndarray]:
    """Best rigid hypothesis from two-lead/two-pad samples of equal length.

    Score: leads within the tolerance of a pad (more is better), then the sum of their squared
    distances, then the smaller rotation (a symmetric part's 180-degree twin loses).
    """
    rng = np.random.default_rng(params.seed)
    tolerance = params.inlier_tolerance
    max_turn = math.radians(params.max_rotation_deg)
    pad_vectors = pads[None, :, :] - pads[:, None, :]
    pad_lengths = np.linalg.norm(pad_vectors, axis=2)
    # Start from the centroid shift with no rotation: the answer when the part is nearly placed.
    best_shift = pads.mean(axis=0) - leads.mean(axis=0)
    best = (*_neg_score(_inliers(leads + best_shift, pads, tolerance)), 0.0)
    best_angle = 0.0
    spread = np.ptp(leads, axis=0).max()
    # A hypothesis placing this many leads cannot be beaten by much: stop sampling.
    enough = 0.9 * min(len(leads), len(pads))
    for _ in range(params.ransac_iterations):
        if -best[0] >= enough:
            break
        i, j = rng.choice(len(leads), 2, replace=False)
        lead_vector = leads[j] - leads[i]
        length = float(np.hypot(*lead_vector))
        if length < max(4 * tolerance, 0.2 * spread):
            continue  # short baselines give poorly defined angles
        ks, ls = np.nonzero(np.abs(pad_lengths - length) <= 2 * tolerance)
        if len(ks) == 0:
            continue
        vectors = pad_vectors[ks, ls]
        turns = np.arctan2(vectors[:, 1], vectors[:, 0]) - math.atan2(lead_vector[1],
                                                                      lead_vector[0])
        turns = np.angle(np.exp(1j * turns))
        allowed = np.abs(turns) <= max_turn
        if not allowed.any():
            continue
        # All hypotheses of this sample scored at once: (K, N, M) distances.
        turns, anchors = turns[allowed], pads[ks[allowed]]
        c, s = np.cos(turns), np.sin(turns)
        rotations = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)  # (K, 2, 2)
        shifts = anchors - rotations @ leads[i]
        moved = np.einsum('kab,nb->kna', rotations, leads) + shifts[:, None, :]
        nearest = np.min(np.linalg.norm(moved[:, :, None, :] - pads[None, None], axis=3),
                         axis=2)
        close = nearest <= tolerance
        counts = close.sum(axis=1)
        squares = np.where(close, nearest ** 2, 0.0).sum(axis=1)
        order = np.lexsort((np.abs(turns), squares, -counts))[0]
        score = (-int(counts[order]), float(squares[order]), float(abs(turns[order])))
        if score < best:
            best, best_angle, best_shift = score, float(turns[order]), shifts[order]
    return best_angle, best_shift


def _neg_score(inliers: tuple[int, float]) -> tuple[int, float]:
    return (-inliers[0], inliers[1])
