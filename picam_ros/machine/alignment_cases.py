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

"""Alignment cases with a known answer: real footprints, a pose, noise, lost and stray blobs.

The oracle of the alignment tests and of ``bench/alignment.py`` (as the synthetic source is the
centroid engine's): each case is a footprint of one family placed on the board (pads), the
part's leads moved by the inverse of a known correction, centroid noise on both, some leads
lost and some stray blobs on both sides. ``lead_pad`` says which pad each lead truly belongs
to, so the least-squares fit on the known pairs (the floor any matcher can reach with this
noise) is computed from the same points.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np

from picam_ros.machine.footprint import bga, chip, dual, quad, sot23

__all__ = ['FAMILY_NAMES', 'Case', 'family_leads', 'make_case']


def family_leads(family: str, rng: np.random.Generator) -> tuple[str, np.ndarray]:
    """Return a real footprint of `family` (name, lead centres in mm), picked by `rng`."""
    if family == 'chip':
        name, pitch = [('0402', 1.0), ('0603', 1.6), ('0805', 1.9), ('1206', 3.2)][
            rng.integers(4)]
        return name, chip(pitch)
    if family == 'sot23':
        return 'SOT-23', sot23()
    if family == 'soic':
        pins, span = [(8, 5.4), (14, 5.4), (16, 9.3)][rng.integers(3)]
        return f'SOIC-{pins}', dual(pins, 1.27, span)
    if family == 'tssop':
        pins = [14, 20, 28][rng.integers(3)]
        return f'TSSOP-{pins}', dual(pins, 0.65, 5.8)
    if family == 'qfp':
        pins, pitch, span = [(32, 0.8, 8.4), (64, 0.5, 11.4), (100, 0.5, 15.4)][rng.integers(3)]
        return f'QFP-{pins}', quad(pins, pitch, span)
    if family == 'qfn':
        pins, pitch, span = [(16, 0.5, 2.9), (32, 0.5, 4.9), (48, 0.4, 6.9)][rng.integers(3)]
        return f'QFN-{pins}', quad(pins, pitch, span, centre_pad=True)
    if family == 'bga':
        size, pitch = [(6, 0.8), (10, 0.8), (8, 0.5)][rng.integers(3)]
        return f'BGA-{size}x{size}', bga(size, size, pitch)
    raise ValueError(f'family: {family!r} is not one of {", ".join(FAMILY_NAMES)}')


FAMILY_NAMES = ('chip', 'sot23', 'soic', 'tssop', 'qfp', 'qfn', 'bga')


@dataclass(frozen=True)
class Case:
    """Leads and pads (mm) with the correction that maps one onto the other."""

    name: str
    leads: np.ndarray
    pads: np.ndarray
    theta: float             # degrees: pads ~= R(theta) leads + shift
    shift: np.ndarray
    lead_pad: np.ndarray     # per lead: its pad's index, -1 for a stray blob
    footprint: np.ndarray    # the footprint's lead centres (part coordinates)

    @property
    def known_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        real = self.lead_pad >= 0
        return self.leads[real], self.pads[self.lead_pad[real]]


def _rotation(degrees: float) -> np.ndarray:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return np.array([[c, -s], [s, c]])


def make_case(family: str, seed: int, *, max_turn: float = 30.0, max_offset: float = 1.5,
              noise: float = 0.01, missing: float = 0.1, extra: float = 0.05,
              any_board_angle: bool = True) -> Case:
    """Return one case of `family` drawn from `seed`.

    The correction turns by up to `max_turn` degrees and moves by up to `max_offset` mm (a
    pick offset larger than a fine pitch); `noise` is the per-axis centroid sigma (mm) on
    leads and pads; `missing` the share of leads lost (never below 2 left); `extra` the share
    of stray blobs added among leads and among pads, inside the part's area.
    """
    rng = np.random.default_rng(seed)
    name, footprint = family_leads(family, rng)
    board_angle = rng.uniform(-180, 180) if any_board_angle else 0.0
    pads = footprint @ _rotation(board_angle).T + rng.uniform(-2.0, 2.0, 2)
    theta = float(rng.uniform(-max_turn, max_turn))
    radius, direction = max_offset * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
    shift = radius * np.array([math.cos(direction), math.sin(direction)])
    leads = (pads - shift) @ _rotation(theta)      # R^T (p - t): so R leads + t = pads
    leads = leads + rng.normal(0, noise, leads.shape)
    pads = pads + rng.normal(0, noise, pads.shape)
    lost = min(round(missing * len(leads)), len(leads) - 2)
    kept = np.sort(rng.permutation(len(leads))[lost:])
    leads, lead_pad = leads[kept], kept
    count = math.ceil(extra * len(footprint))
    span = np.ptp(footprint, axis=0).max() * 0.6 + 0.5
    centre = pads[:len(footprint)].mean(axis=0)
    stray_pads = centre + rng.uniform(-1, 1, (count, 2)) * span
    lead_centre = (centre - shift) @ _rotation(theta)
    stray_leads = lead_centre + rng.uniform(-1, 1, (count, 2)) * span
    return Case(name, np.concatenate([leads, stray_leads]), np.concatenate([pads, stray_pads]),
                theta, shift, np.concatenate([lead_pad, np.full(count, -1)]), footprint)
