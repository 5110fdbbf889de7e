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

Both point sets are in millimetres relative to the nozzle (``picam_ros.machine.calibration``),
in a common frame. The correction is the rigid transform ``pads ~= R(theta) @ leads + (dx, dy)``
(rotation about the nozzle): rotate the part by ``theta`` and move it by ``(dx, dy)``.

Why it is built this way (a wrong correction places a fine-pitch part one pitch off):

- **Count first, over the whole search range.** Hypotheses come from the longest lead pairs
  (no lead in more than two of them, so one stray blob cannot spoil them all), each matched to
  every pad pair of the same length whose turn is in range; every hypothesis is scored by how
  many distinct pads get a lead within ``inlier_tolerance`` (a grid of the pads makes that a
  lookup). Nothing stops early: a one-pitch slip that places most leads cannot hide the truth
  that places more. Distinct poses (leads moved apart by more than the tolerance) are refined
  in order of their counts, and the winner is the one placing the most leads after refinement,
  then the smallest residual.
- **A gate that follows the noise.** The refinement pairs each lead with at most one pad
  (closest first) within a gate, fits the least-squares rigid transform (2-D Kabsch: the closed
  form ``theta = atan2(sum cross, sum dot)`` of the centred pairs, a proper rotation by
  construction), and sets the next gate to ``gate_sigmas`` times the pair noise measured from
  the residuals themselves (their median over 1.1774, the median of a 2-D Gaussian distance,
  corrected for the 3 fitted degrees of freedom). No fixed share of good pairs is trimmed, so
  with plain noise the fit is the least-squares fit of the true pairs.
- **A lead is placed where the rest of the part puts it.** Every pair in a fit must be
  within the tolerance of where the fit of the *other* pairs puts it (its deleted residual,
  in closed form). With 2 or 3 leads the fit's own residuals cannot show a wrong pair: 3
  pairs share one stray blob's error out among all of them, and a pose bent 3-20 degrees to
  reach a stray lead blob with a stray pad placed "3 of 2" leads and beat the truth (issue
  24: 30 of 2,000 passives and SOT-23s). Every pose that places the most leads is refined
  (a 2-lead part with stray blobs has dozens, the truth among them), each from its own
  hypothesis; poses refined past the rotation range are dropped.
- **Ambiguity is reported, not resolved by luck.** The best distinct pose other than the
  winner is kept as ``competitor``; when it places as many leads, ``ambiguous`` is true (a
  slip along a row whose end leads are missing, a symmetric part turned by 90/180 degrees).
  With a footprint that is not polarised, a competitor placing the same lead blobs on the
  same pads (the same part turned onto itself) is no competitor.

``align_mean`` (the original machine's method, kept as the peer): each lead to its nearest pad,
mean translation and mean rotation of the matched pairs about their centroids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import Any

import numpy as np

from picam_ros.core.config import config_field, ConfigBase
from picam_ros.machine.footprint import Footprint

__all__ = ['Alignment', 'AlignmentParams', 'Pose', 'align', 'align_mean', 'rigid_fit']

#: Median of the distance of a 2-D isotropic Gaussian with unit sigma: sqrt(2 ln 2).
_RAYLEIGH_MEDIAN = math.sqrt(2 * math.log(2))
#: Pairs needed before their residuals say anything about the noise.
_MIN_PAIRS_FOR_NOISE = 5
#: Chi-square quantiles at 1 - 1e-4 by degrees of freedom (a fit of 3 or 4 pairs has 3 or 5).
_CHI2_1E4 = {3: 21.11, 5: 25.74}
#: Distinct poses refined at most (in order of their counts).
_MAX_CANDIDATES = 16


@dataclass(frozen=True)
class AlignmentParams(ConfigBase):
    """Tuning of ``align``; lengths in the points' unit (mm)."""

    inlier_tolerance: float = config_field(
        0.15, 'A lead within this distance of a pad counts as placed on it (mm).', low=1e-9)
    max_rotation_deg: float = config_field(
        45.0, 'Hypotheses turning the part further than this are not considered (degrees); '
        'a footprint with any_rotation searches all turns.', low=1e-9, high=180.0)
    gate_sigmas: float = config_field(
        5.0, 'The fit keeps the pairs within this many sigmas of the pair noise, measured '
        'from the residuals (5: a true pair is left out once in 270,000).', low=2.0,
        high=100.0)
    base_pairs: int = config_field(
        12, 'Lead pairs the hypotheses are built from (the longest; no lead in more than '
        'two): more pairs survive more missing and stray blobs.', low=1, high=10_000)
    max_iterations: int = config_field(50, 'Refinement iterations at most.', low=1,
                                       high=10_000)
    pair_noise: float = config_field(
        0.015, "Per-axis sigma of a lead/pad pair's noise assumed when too few pairs (under 5) "
        'to measure it (mm): a 3- or 4-pair fit whose residuals this noise explains only '
        'once in 10,000 drops a pair.', low=1e-9)


@dataclass(frozen=True)
class Pose:
    """A rigid pose and how many leads it places: the competitor of an alignment."""

    dx: float
    dy: float
    theta: float          # degrees
    matched: int
    max_residual: float   # largest residual distance of its matched pairs


@dataclass(frozen=True)
class Alignment:
    """The correction ``pads ~= R(theta) @ leads + (dx, dy)`` and what supports it."""

    dx: float
    dy: float
    theta: float          # degrees, counter-clockwise in the points' axes, in (-180, 180]
    rms: float            # residual RMS of the matched pairs (points' unit)
    matched: int          # leads placed on a pad within the tolerance (one lead per pad)
    lead_index: np.ndarray
    pad_index: np.ndarray
    residuals: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)), repr=False)
    expected: int = 0     # leads the part should have (footprint, or pads under the part)
    noise: float | None = None     # pair noise sigma measured from the residuals
    competitor: Pose | None = None  # the best other distinct pose
    symmetries: tuple[float, ...] = ()   # the footprint's self-mapping turns (degrees)
    unplaced: int = 0     # lead blobs on the part (within a pitch of it) that land on no pad
    #: A polarised footprint maps onto itself by a turn within the search range: its twin
    #: puts the same lead blobs on pads, so pin 1 cannot be told whatever the counts say.
    turned_twin: bool = False

    @property
    def max_residual(self) -> float:
        """Return the largest residual distance of a matched pair (0 without pairs)."""
        if not len(self.residuals):
            return 0.0
        return float(np.max(np.linalg.norm(self.residuals, axis=1)))

    def ambiguous(self, max_residual: float | None = None) -> bool:
        """Return True when another distinct pose places as many leads.

        With `max_residual`, a pose that places as many leads only by stretching a pair
        beyond both `max_residual` and twice this result's worst pair (a stray blob next to a
        stray pad) is no real alternative. A symmetric twin has the same noise as the result:
        its worst pair is within twice the result's, even where the noise puts one of them
        just over `max_residual`.
        """
        if self.turned_twin:
            return True
        other = self.competitor
        if other is None or other.matched < self.matched:
            return False
        return max_residual is None or other.max_residual <= max(max_residual,
                                                                 2 * self.max_residual)

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


def align(leads: Any, pads: Any, params: AlignmentParams | None = None,
          footprint: Footprint | None = None) -> Alignment:
    """Robust rigid correction of `leads` onto `pads` (see the module docstring).

    Raises LookupError when fewer than 2 leads land on pads under any hypothesis.
    """
    params = params or AlignmentParams()
    leads, pads = _checked(leads, 'leads'), _checked(pads, 'pads')
    tolerance = params.inlier_tolerance
    any_rotation = footprint is not None and footprint.any_rotation
    max_turn = math.pi if any_rotation else math.radians(params.max_rotation_deg)
    most = None if footprint is None else footprint.count
    grid = _PadGrid(pads, tolerance)
    angles, shifts, bases = _hypotheses(leads, pads, tolerance, max_turn, params.base_pairs)
    counts, squares = grid.score(leads, angles, shifts)
    corners = _corners(leads)
    refined = []
    for k in _distinct(angles, shifts, counts, squares, corners, tolerance / 4):
        refined.append(_refine(leads, pads, angles[k], shifts[k], bases[k], params, most))
    # The range limits the answer, not only the samples: a pose refined beyond it is neither
    # the correction nor a rival to it.
    refined = [r for r in refined if r.matched >= 2 and
               abs(math.atan2(math.sin(r.angle), math.cos(r.angle))) <= max_turn]
    if not refined:
        raise LookupError(f'align: fewer than 2 leads land on pads ({len(leads)} leads, '
                          f'{len(pads)} pads); is the part on the nozzle?')
    refined.sort(key=lambda r: (-r.matched, r.rms, abs(r.angle)))
    best = refined[0]
    if footprint is not None and not footprint.polarised:
        # The part turned onto itself is the same placement: take the smallest turn.
        best = min((r for r in refined if r.matched == best.matched and
                    _same_blobs(r, best)), key=lambda r: abs(r.angle))
    rivals = []
    for other in refined:
        if _moved_apart(best, other, leads) <= tolerance:
            continue     # the same pose, reached from another hypothesis
        if footprint is not None and not footprint.polarised and _same_blobs(other, best):
            continue     # the same part turned onto itself: not a different placement
        rivals.append(Pose(float(other.shift[0]), float(other.shift[1]),
                           _degrees(other.angle), other.matched,
                           float(np.max(np.linalg.norm(other.residuals, axis=1)))))
    # The strongest rival: the most leads placed, then the tightest worst pair (the verdict
    # asks whether any rival would pass as well).
    competitor = min(rivals, key=lambda p: (-p.matched, p.max_residual), default=None)
    symmetries = () if footprint is None else footprint.symmetries(tolerance)
    twin = None
    if footprint is not None and footprint.polarised:
        twin = _turned_twin(leads, pads, best, symmetries, max_turn, params, most)
        if twin is not None:
            competitor = twin
    expected = (footprint.count if footprint is not None else
                _pads_under_the_part(leads[best.lead_index], pads, best, tolerance))
    unplaced = _unplaced_leads(leads, pads, best)
    return Alignment(float(best.shift[0]), float(best.shift[1]), _degrees(best.angle),
                     best.rms, best.matched, best.lead_index, best.pad_index,
                     best.residuals, expected, best.noise, competitor, symmetries, unplaced,
                     twin is not None)


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
                     np.arange(len(leads)), pad_index, residuals, len(leads))


# -- hypotheses --------------------------------------------------------------------------

def _base_pairs(leads: np.ndarray, tolerance: float, count: int) -> list[tuple[int, int]]:
    """Return the longest lead pairs, no lead in more than two (long baselines fix angles)."""
    i, j = np.triu_indices(len(leads), 1)
    length = np.linalg.norm(leads[j] - leads[i], axis=1)
    order = np.argsort(-length, kind='stable')
    if len(order) <= count:
        # Every pair fits in the budget (a small part): the one pair of true leads that
        # fixes the pose must not be left out to spread the uses.
        return [(int(i[k]), int(j[k])) for k in order if length[k] > 0]
    uses = np.zeros(len(leads), np.intp)
    chosen: list[tuple[int, int]] = []
    for k in order:
        a, b = int(i[k]), int(j[k])
        if uses[a] >= 2 or uses[b] >= 2:
            continue
        if chosen and length[k] < 4 * tolerance:
            break      # short baselines give poorly defined angles
        chosen.append((a, b))
        uses[a] += 1
        uses[b] += 1
        if len(chosen) >= count:
            break
    return chosen


def _hypotheses(leads: np.ndarray, pads: np.ndarray, tolerance: float, max_turn: float,
                base_pairs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the angles and shifts taking each base lead pair onto each pad pair as long.

    With each, its base: lead i, lead j, pad k, pad l (-1 for the centroid shift).
    """
    pad_vectors = pads[None, :, :] - pads[:, None, :]
    pad_lengths = np.linalg.norm(pad_vectors, axis=2)
    # The centroid shift with no rotation: the answer when the part is nearly placed.
    angles = [np.zeros(1)]
    shifts = [(pads.mean(axis=0) - leads.mean(axis=0))[None]]
    bases = [np.full((1, 4), -1, np.intp)]
    for i, j in _base_pairs(leads, tolerance, base_pairs):
        lead_vector = leads[j] - leads[i]
        length = math.hypot(*lead_vector)
        ks, ls = np.nonzero(np.abs(pad_lengths - length) <= 2 * tolerance)
        if not len(ks):
            continue
        vectors = pad_vectors[ks, ls]
        turns = np.arctan2(vectors[:, 1], vectors[:, 0]) - math.atan2(lead_vector[1],
                                                                      lead_vector[0])
        turns = np.angle(np.exp(1j * turns))
        # The range is a limit on the part's turn; a sample's turn is measured with up to
        # 2 x tolerance / length of error, so a part just inside the range is not lost.
        allowed = np.abs(turns) <= max_turn + 2 * tolerance / max(length, 1e-12)
        turns, ks, ls = turns[allowed], ks[allowed], ls[allowed]
        c, s = np.cos(turns), np.sin(turns)
        middle = (leads[i] + leads[j]) / 2
        moved = np.c_[c * middle[0] - s * middle[1], s * middle[0] + c * middle[1]]
        angles.append(turns)
        shifts.append((pads[ks] + pads[ls]) / 2 - moved)
        bases.append(np.c_[np.full(len(ks), i), np.full(len(ks), j), ks, ls])
    return np.concatenate(angles), np.concatenate(shifts), np.concatenate(bases)


class _PadGrid:
    """Pads bucketed in square cells of the tolerance: "which pad is within tolerance" is a lookup.

    Each cell lists every pad within ``tolerance + half a cell diagonal`` of its centre, so the
    nearest pad within the tolerance of any point in the cell is among them: exact, not a
    raster approximation.
    """

    def __init__(self, pads: np.ndarray, tolerance: float) -> None:
        self.pads, self.tolerance = pads, tolerance
        cell = tolerance
        low, high = pads.min(axis=0), pads.max(axis=0)
        while np.prod(np.ceil((high - low) / cell) + 3) > 4_000_000:
            cell *= 2   # far-flung stray pads: coarser cells, still exact
        self.cell = cell
        self.origin = low - cell
        self.shape = (np.ceil((high - low) / cell).astype(np.intp) + 3)
        reach = tolerance + cell * math.sqrt(2) / 2
        span = math.ceil(reach / cell)
        steps = np.arange(-span, span + 1)
        offsets = np.stack(np.meshgrid(steps, steps, indexing='ij'), -1).reshape(-1, 2)
        base = np.floor((pads - self.origin) / cell).astype(np.intp)
        cells = base[:, None, :] + offsets[None, :, :]                  # (M, C, 2)
        centres = self.origin + (cells + 0.5) * cell
        near = np.linalg.norm(centres - pads[:, None, :], axis=2) <= reach
        inside = np.all((cells >= 0) & (cells < self.shape), axis=2)
        pad_ids, which = np.nonzero(near & inside)
        flat = cells[pad_ids, which, 0] * self.shape[1] + cells[pad_ids, which, 1]
        order = np.argsort(flat, kind='stable')
        flat, pad_ids = flat[order], pad_ids[order]
        first = np.searchsorted(flat, flat, side='left')
        rank = np.arange(len(flat)) - first
        self.table = np.full((int(np.prod(self.shape)), int(rank.max()) + 1), -1, np.intp)
        self.table[flat, rank] = pad_ids

    def nearest(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the nearest pad within the tolerance of each point (-1: none), and distance."""
        cells = np.floor((points - self.origin) / self.cell).astype(np.intp)
        inside = np.all((cells >= 0) & (cells < self.shape), axis=-1)
        flat = np.where(inside, cells[..., 0] * self.shape[1] + cells[..., 1], 0)
        candidates = np.where(inside[..., None], self.table[flat], -1)     # (..., S)
        if candidates.shape[-1] == 1:    # no two pads share a cell: nothing to choose
            pad = candidates[..., 0]
            offset = self.pads[pad] - points
            distance = np.sqrt(offset[..., 0] ** 2 + offset[..., 1] ** 2)
            placed = (pad >= 0) & (distance <= self.tolerance)
            return np.where(placed, pad, -1), np.where(placed, distance, np.inf)
        offset = self.pads[candidates] - points[..., None, :]
        distance = np.sqrt(offset[..., 0] ** 2 + offset[..., 1] ** 2)
        distance = np.where(candidates >= 0, distance, np.inf)
        best = np.argmin(distance, axis=-1)
        nearest = np.take_along_axis(distance, best[..., None], -1)[..., 0]
        pad = np.take_along_axis(candidates, best[..., None], -1)[..., 0]
        placed = nearest <= self.tolerance
        return np.where(placed, pad, -1), np.where(placed, nearest, np.inf)

    def score(self, leads: np.ndarray, angles: np.ndarray,
              shifts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the distinct pads placed and their summed squared distance, per hypothesis."""
        counts = np.zeros(len(angles), np.intp)
        squares = np.zeros(len(angles))
        chunk = max(1, 2_000_000 // max(1, len(leads) * self.table.shape[1]))
        for start in range(0, len(angles), chunk):
            turn, shift = angles[start:start + chunk], shifts[start:start + chunk]
            c, s = np.cos(turn)[:, None], np.sin(turn)[:, None]
            moved = np.stack([c * leads[:, 0] - s * leads[:, 1] + shift[:, 0:1],
                              s * leads[:, 0] + c * leads[:, 1] + shift[:, 1:2]], -1)
            pad, distance = self.nearest(moved)
            ordered = np.sort(pad, axis=1)
            fresh = (ordered >= 0) & np.c_[np.ones(len(ordered), bool),
                                           ordered[:, 1:] != ordered[:, :-1]]
            counts[start:start + chunk] = fresh.sum(axis=1)
            squares[start:start + chunk] = np.where(pad >= 0, distance ** 2, 0.0).sum(axis=1)
        return counts, squares


def _distinct(angles: np.ndarray, shifts: np.ndarray, counts: np.ndarray,
              squares: np.ndarray, corners: np.ndarray, same: float) -> list[int]:
    """Return the hypotheses worth refining: the best of each distinct pose, most placed first.

    Poses count as the same when no lead moves more than `same` between them (checked
    on the corners of the leads' bounding box, which bound every lead's move). Only poses
    placing nearly as many leads as the best are kept: refinement adds a few leads, never
    a row. Past ``_MAX_CANDIDATES``, only poses placing as many as the best are kept (a
    2-lead part with stray blobs has dozens of them, the truth among them).
    """
    order = np.lexsort((squares, -counts))
    floor = max(2, counts[order[0]] - max(2, math.ceil(0.2 * counts[order[0]])))
    chosen: list[int] = []
    placed = []
    for k in order:
        if counts[k] < floor or (len(chosen) >= _MAX_CANDIDATES and
                                 counts[k] < counts[order[0]]):
            break       # every pose placing the most is refined: any could be the answer
        here = _transform(corners, angles[k], shifts[k])
        if any(np.max(np.linalg.norm(here - other, axis=1)) <= same for other in placed):
            continue
        chosen.append(int(k))
        placed.append(here)
    return chosen


# -- refinement --------------------------------------------------------------------------

@dataclass
class _Refined:
    angle: float
    shift: np.ndarray
    matched: int
    rms: float
    lead_index: np.ndarray
    pad_index: np.ndarray
    residuals: np.ndarray
    noise: float | None


def _one_to_one(moved: np.ndarray, pads: np.ndarray,
                gate: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the lead/pad pairs within `gate`, closest first, each lead and pad used once."""
    offset = moved[:, None, :] - pads[None, :, :]
    squared = offset[..., 0] ** 2 + offset[..., 1] ** 2
    li, pj = np.nonzero(squared <= gate * gate)
    if len(np.unique(li)) == len(li) and len(np.unique(pj)) == len(pj):
        return li, pj            # no lead or pad claimed twice: nothing to choose
    order = np.argsort(squared[li, pj], kind='stable')
    lead_used = np.zeros(len(moved), bool)
    pad_used = np.zeros(len(pads), bool)
    keep = []
    for k in order:
        a, b = li[k], pj[k]
        if not lead_used[a] and not pad_used[b]:
            lead_used[a] = pad_used[b] = True
            keep.append(k)
    keep = np.sort(np.asarray(keep, np.intp))
    return li[keep], pj[keep]


def _leave_one_out(source: np.ndarray,
                   target: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return the rigid fit of all pairs but one, for each pair, in closed form.

    The fit's sums less one pair's share give the fit without it: per pair, its angle, the
    other pairs' means (source, target; the fit maps ``R (p - mean_a) + mean_b``) and the
    centred points those refer to.
    """
    n = len(source)
    a = source - source.mean(axis=0)
    b = target - target.mean(axis=0)
    own_cross = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    own_dot = a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1]
    mean_a = (a.sum(axis=0) - a) / (n - 1)          # (n, 2): the others' means
    mean_b = (b.sum(axis=0) - b) / (n - 1)
    cross = (own_cross.sum() - own_cross -
             (n - 1) * (mean_a[:, 0] * mean_b[:, 1] - mean_a[:, 1] * mean_b[:, 0]))
    dot = (own_dot.sum() - own_dot -
           (n - 1) * (mean_a[:, 0] * mean_b[:, 0] + mean_a[:, 1] * mean_b[:, 1]))
    return np.arctan2(cross, dot), mean_a, mean_b, np.stack([a, b])


def _supported(leads: np.ndarray, pads: np.ndarray, lead_index: np.ndarray,
               pad_index: np.ndarray, params: AlignmentParams,
               held: set[tuple[int, int]] = frozenset(),
               most: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Drop pairs until the others put every pair within `tolerance` of its pad.

    A lead counts as placed only where the rest of the part puts it: otherwise a pose bent
    to reach one stray blob with one stray pad (leads 100-150 um off on a 3-lead part) places
    more leads than the true pose. Of the pairs, the one dropped is the one whose absence
    leaves the others fitting best (least squared residual): with 3 pairs every deleted
    residual includes the wrong pair's pull, so the largest need not be the wrong pair.
    Two pairs cannot check each other and stay.

    Below ``_MIN_PAIRS_FOR_NOISE`` pairs the tolerance is too loose a test: a stray blob
    115 um from a stray pad under the true pose joins a 2-lead part's pairs and pulls the
    fit 50-60 um off (issue 24, chip seeds 286 and 859). There the deleted residual must be
    fit as a whole be consistent with the assumed ``pair_noise``: its squared residuals over
    the noise (chi-square, 2n - 3 degrees of freedom) below the 1e-4 quantile. A single
    pair's deleted residual cannot show it: the stray's lever arm from the 2 others' short
    baseline widens its spread to 3.9 sigmas.
    With `most` (a footprint's lead count) no more pairs than that are kept: one blob and
    one pad per lead.

    Below ``_MIN_PAIRS_FOR_NOISE`` pairs, the `held` pairs (the pose's claim so far: its
    hypothesis's base pair, then the pairs of its last fit) go last: which of 3 pairs is
    the wrong one cannot be told from them, and each claim is followed to its own pose (a
    2-lead part with stray blobs has several, all of them candidates).
    """
    tolerance = params.inlier_tolerance
    while len(lead_index) >= 3:
        n = len(lead_index)
        source, target = leads[lead_index], pads[pad_index]
        angle, mean_a, mean_b, (a, b) = _leave_one_out(source, target)
        c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
        ax = a[None, :, 0] - mean_a[:, 0:1]            # (fit, pair)
        ay = a[None, :, 1] - mean_a[:, 1:2]
        ex = b[None, :, 0] - (c * ax - s * ay + mean_b[:, 0:1])
        ey = b[None, :, 1] - (s * ax + c * ay + mean_b[:, 1:2])
        squared = ex ** 2 + ey ** 2
        deleted = np.sqrt(np.diagonal(squared))
        fits = deleted.max() <= tolerance
        if fits and n < _MIN_PAIRS_FOR_NOISE:
            fitted = target - _transform(source, *rigid_fit(source, target))
            fits = np.sum(fitted ** 2) / params.pair_noise ** 2 <= _CHI2_1E4[2 * n - 3]
        if fits and (most is None or n <= most):
            break
        np.fill_diagonal(squared, 0.0)
        remaining = squared.sum(axis=1)
        if n < _MIN_PAIRS_FOR_NOISE:
            newcomer = np.array([(int(lp), int(pp)) not in held
                                 for lp, pp in zip(lead_index, pad_index, strict=True)])
            if newcomer.any():
                remaining = np.where(newcomer, remaining, np.inf)
        drop = int(np.argmin(remaining))
        keep = np.arange(len(lead_index)) != drop
        lead_index, pad_index = lead_index[keep], pad_index[keep]
    return lead_index, pad_index


def _noise_sigma(distances: np.ndarray) -> float | None:
    """Return the per-axis sigma of the pair noise from residual distances (None: too few).

    The median is robust to the few strays a gate at the tolerance lets in; the factor
    sqrt(2n / (2n - 3)) undoes the shrinking of residuals by the 3 fitted parameters.
    """
    n = len(distances)
    if n < _MIN_PAIRS_FOR_NOISE:
        return None
    return float(np.median(distances)) / _RAYLEIGH_MEDIAN * math.sqrt(2 * n / (2 * n - 3))


def _refine(leads: np.ndarray, pads: np.ndarray, angle: float, shift: np.ndarray,
            base: np.ndarray, params: AlignmentParams, most: int | None = None) -> _Refined:
    tolerance = params.inlier_tolerance
    # A floor under the gate: on noiseless points the measured noise is 0, and rounding
    # must not push true pairs out.
    floor = tolerance / 20
    gate, previous, noise = tolerance, None, None
    held = ({(int(base[0]), int(base[2])), (int(base[1]), int(base[3]))} if base[0] >= 0
            else set())
    for _ in range(params.max_iterations):
        lead_index, pad_index = _one_to_one(_transform(leads, angle, shift), pads, gate)
        lead_index, pad_index = _supported(leads, pads, lead_index, pad_index, params,
                                           held, most)
        if len(lead_index) < 2:
            break
        held = set(zip(lead_index.tolist(), pad_index.tolist()))
        angle, shift = rigid_fit(leads[lead_index], pads[pad_index])
        distances = np.linalg.norm(
            pads[pad_index] - _transform(leads[lead_index], angle, shift), axis=1)
        noise = _noise_sigma(distances)
        gate = tolerance if noise is None else min(tolerance,
                                                   max(floor, params.gate_sigmas * noise))
        pairs = (tuple(lead_index), tuple(pad_index))
        if pairs == previous:
            break
        previous = pairs
    lead_index, pad_index = _one_to_one(_transform(leads, angle, shift), pads, tolerance)
    lead_index, pad_index = _supported(leads, pads, lead_index, pad_index, params, held, most)
    residuals = pads[pad_index] - _transform(leads[lead_index], angle, shift)
    rms = float(np.sqrt(np.mean(np.sum(residuals ** 2, axis=1)))) if len(residuals) else 0.0
    return _Refined(angle, np.asarray(shift, np.float64), len(lead_index), rms, lead_index,
                    pad_index, residuals, noise)


def _turned_twin(leads: np.ndarray, pads: np.ndarray, best: _Refined,
                 symmetries: tuple[float, ...], max_turn: float, params: AlignmentParams,
                 most: int | None) -> Pose | None:
    """Return the pose turned from `best` by a symmetry of the footprint, if in range.

    The twin puts the same lead blobs on pads (turned about the placed pads' centre and
    refined); it may place one lead more or fewer only by a stray blob meeting a stray pad,
    which says nothing about pin 1 (issue 24: 105 of 7,000 turned parts were corrected by
    a twin that placed one stray more than the truth, all 7-20 mm off).
    """
    centre = pads[best.pad_index].mean(axis=0)
    for degrees in symmetries:
        turn = math.radians(degrees)
        angle = best.angle + turn
        if abs(math.atan2(math.sin(angle), math.cos(angle))) > max_turn + 1e-9:
            continue
        shift = _rotation(turn) @ (best.shift - centre) + centre
        twin = _refine(leads, pads, angle, shift, np.full(4, -1, np.intp), params, most)
        worst = (float(np.max(np.linalg.norm(twin.residuals, axis=1)))
                 if twin.matched else math.inf)
        return Pose(float(twin.shift[0]), float(twin.shift[1]), _degrees(twin.angle),
                    twin.matched, worst)
    return None


def _pads_under_the_part(placed_leads: np.ndarray, pads: np.ndarray, pose: _Refined,
                         tolerance: float) -> int:
    """Count the pads inside the placed leads' box (part axes, grown by the tolerance).

    Without a footprint this is what the part should cover: a lead missing inside the
    pattern counts as missing; one missing at the end of a row cannot be told from a shorter
    row (the competitor check reports that case as ambiguous instead).
    """
    local = (pads - pose.shift) @ _rotation(pose.angle)
    low = placed_leads.min(axis=0) - tolerance
    high = placed_leads.max(axis=0) + tolerance
    return int(np.all((local >= low) & (local <= high), axis=1).sum())


def _unplaced_leads(leads: np.ndarray, pads: np.ndarray, pose: _Refined) -> int:
    """Count the lead blobs within a pitch of the placed leads' box that land on no pad.

    A lead the correction leaves off every pad is evidence against it (a part turned beyond
    the search range can place two of its three leads); blobs farther out are not the part's.
    The pitch is the median distance between neighbouring placed pads.
    """
    placed = leads[pose.lead_index]
    if len(placed) < 2:
        return 0
    matched = pads[pose.pad_index]
    gaps = np.linalg.norm(matched[:, None, :] - matched[None, :, :], axis=2)
    np.fill_diagonal(gaps, np.inf)
    pitch = float(np.median(gaps.min(axis=1)))
    low, high = placed.min(axis=0) - pitch, placed.max(axis=0) + pitch
    others = np.setdiff1d(np.arange(len(leads)), pose.lead_index)
    near = np.all((leads[others] >= low) & (leads[others] <= high), axis=1)
    return int(near.sum())


def _same_blobs(first: _Refined, second: _Refined) -> bool:
    """Return True when two poses put the same lead blobs on the same pads (in any order).

    Only then is one the part turned onto itself; the same pads reached with a stray blob
    in place of a lead is another placement.
    """
    return (set(first.lead_index.tolist()) == set(second.lead_index.tolist()) and
            set(first.pad_index.tolist()) == set(second.pad_index.tolist()))


def _moved_apart(first: _Refined, second: _Refined, leads: np.ndarray) -> float:
    """Return how far apart two poses put a lead, at most."""
    return float(np.max(np.linalg.norm(_transform(leads, first.angle, first.shift) -
                                       _transform(leads, second.angle, second.shift),
                                       axis=1)))


# -- geometry ----------------------------------------------------------------------------

def _corners(points: np.ndarray) -> np.ndarray:
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


def _degrees(angle: float) -> float:
    degrees = math.degrees(math.atan2(math.sin(angle), math.cos(angle)))
    return 180.0 if degrees == -180.0 else degrees


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
