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

"""A part's footprint: where its leads are, and which turns of it look the same.

Alignment without a footprint knows only the blobs it sees: it cannot tell a lead missing at the
end of a row from a row one lead shorter, and it keeps the part within ``max_rotation_deg`` of
its pick so that a symmetric part's turned twin is never considered. A footprint fixes both:
the expected lead count is known, and the search may cover every rotation, because the
footprint says which turns map the lead pattern onto itself (its symmetry): an asymmetric part
(SOT-23, a BGA with a missing ball) is aligned at any rotation, a symmetric one turned by a
symmetry angle places as many leads and is reported ambiguous, unless the footprint says the
part is not polarised (a resistor: both ways round are the same part).

The file is YAML beside the machine calibration (parameter ``footprint_file``), in mm, part
coordinates (any origin; the leads' centroid is used), either the lead centres::

    name: SOT-23
    leads: [[-0.95, 1.0], [0.95, 1.0], [0.0, -1.0]]
    polarised: true          # default; false: turns that map the leads onto themselves are equal
    any_rotation: true       # default; false: keep alignment.max_rotation_deg

or a family with its dimensions (see :data:`FAMILIES`)::

    name: SOIC-8
    family: dual             # two rows: SOIC, TSSOP, SOT-23-6, ...
    pins: 8
    pitch: 1.27
    span: 5.4                # row to row, lead centre to lead centre

The generators also give the tests and benches real footprints of every family.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from picam_ros.core.yaml_doc import load_mapping, read_text

__all__ = ['FAMILIES', 'Footprint', 'bga', 'chip', 'dual', 'footprint_from_family',
           'load_footprint', 'parse_footprint', 'quad', 'sot23']


@dataclass(frozen=True)
class Footprint:
    """Lead centres of a part (mm, part coordinates) and how they may be told apart."""

    name: str
    leads: np.ndarray = field(repr=False)     # (N, 2)
    polarised: bool = True
    any_rotation: bool = True

    def __post_init__(self) -> None:
        leads = np.asarray(self.leads, np.float64)
        if leads.ndim != 2 or leads.shape[1] != 2 or len(leads) < 2:
            raise ValueError(f'{self.name}: leads: expected at least 2 [x, y] pairs, got shape '
                             f'{leads.shape}')
        if not np.isfinite(leads).all():
            raise ValueError(f'{self.name}: leads must be finite numbers')
        object.__setattr__(self, 'leads', leads)

    @property
    def count(self) -> int:
        return len(self.leads)

    def symmetries(self, tolerance: float) -> tuple[float, ...]:
        """Return the turns (degrees, in (0, 360)) that map the leads onto themselves.

        Turns are about the leads' centroid.

        Only quarter turns are tried: every lead pattern a pick-and-place footprint has (rows,
        quads, grids) is symmetric under a subset of them or not at all.
        """
        centred = self.leads - self.leads.mean(axis=0)
        found = []
        for degrees in (90.0, 180.0, 270.0):
            angle = math.radians(degrees)
            c, s = math.cos(angle), math.sin(angle)
            turned = centred @ np.array([[c, -s], [s, c]]).T
            distance = np.linalg.norm(turned[:, None, :] - centred[None, :, :], axis=2)
            if np.all(distance.min(axis=1) <= tolerance):
                found.append(degrees)
        return tuple(found)


def chip(pitch: float = 1.0) -> np.ndarray:
    """Return two pads `pitch` apart (0402: ~1.0 mm, 0603: ~1.6 mm, 1206: ~3.2 mm)."""
    return np.array([[-pitch / 2, 0.0], [pitch / 2, 0.0]])


def sot23(pitch: float = 0.95, span: float = 2.1) -> np.ndarray:
    """Return two leads on one side `2 * pitch` apart, one on the other: asymmetric."""
    return np.array([[-pitch, span / 2], [pitch, span / 2], [0.0, -span / 2]])


def dual(pins: int, pitch: float, span: float) -> np.ndarray:
    """Return two rows of ``pins / 2`` leads `span` apart (SOIC, TSSOP, SSOP)."""
    if pins < 2 or pins % 2:
        raise ValueError(f'dual: pins must be even and >= 2, got {pins}')
    along = (np.arange(pins // 2) - (pins // 2 - 1) / 2) * pitch
    return np.concatenate([np.c_[along, np.full(len(along), span / 2)],
                           np.c_[along[::-1], np.full(len(along), -span / 2)]])


def quad(pins: int, pitch: float, span: float, centre_pad: bool = False) -> np.ndarray:
    """Return four sides of ``pins / 4`` leads (QFP, QFN); a QFN's exposed pad as one more lead."""
    if pins < 4 or pins % 4:
        raise ValueError(f'quad: pins must be a multiple of 4, got {pins}')
    along = (np.arange(pins // 4) - (pins // 4 - 1) / 2) * pitch
    half = np.full(len(along), span / 2)
    sides = [np.c_[along, half], np.c_[half, -along], np.c_[-along, -half], np.c_[-half, along]]
    if centre_pad:
        sides.append(np.zeros((1, 2)))
    return np.concatenate(sides)


def bga(rows: int, columns: int, pitch: float,
        missing: tuple[tuple[int, int], ...] = ()) -> np.ndarray:
    """Return a grid of balls; `missing` (row, column) balls left out (A1 is (0, 0))."""
    if rows < 1 or columns < 1 or rows * columns < 2:
        raise ValueError(f'bga: need at least 2 balls, got {rows}x{columns}')
    gone = {tuple(cell) for cell in missing}
    cells = [(r, c) for r in range(rows) for c in range(columns) if (r, c) not in gone]
    grid = np.array(cells, np.float64)
    return np.c_[(grid[:, 1] - (columns - 1) / 2) * pitch, (grid[:, 0] - (rows - 1) / 2) * pitch]


#: ``family:`` in a footprint file -> generator; the other keys are its arguments.
FAMILIES = {'chip': chip, 'sot23': sot23, 'dual': dual, 'quad': quad, 'bga': bga}


def footprint_from_family(name: str, family: str, **dimensions: Any) -> Footprint:
    """Return a footprint generated by one of :data:`FAMILIES`."""
    if family not in FAMILIES:
        raise ValueError(f'{name}: family: {family!r} is not one of {", ".join(FAMILIES)}')
    try:
        leads = FAMILIES[family](**dimensions)
    except TypeError as exc:
        raise ValueError(f'{name}: family {family}: {exc}') from None
    return Footprint(name, leads)


def parse_footprint(text: str, source: str = '<string>') -> Footprint:
    """Parse a footprint YAML document (see the module docstring); errors name `source`."""
    doc = load_mapping(text, source, 'leads or family')
    doc = dict(doc)
    name = str(doc.pop('name', Path(source).stem))
    flags = {key: doc.pop(key) for key in ('polarised', 'any_rotation') if key in doc}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise ValueError(  # noqa: TRY004 - a malformed file is a bad value
                f'{source}: {key}: expected true or false, got {value!r}')
    try:
        if 'leads' in doc:
            leads = doc.pop('leads')
            if doc:
                raise ValueError(f'unknown key(s) {sorted(doc)} beside leads')
            footprint = Footprint(name, np.asarray(leads, np.float64))
        elif 'family' in doc:
            family = doc.pop('family')
            if 'missing' in doc:
                doc['missing'] = tuple(tuple(cell) for cell in doc['missing'])
            footprint = footprint_from_family(name, family, **doc)
        else:
            raise ValueError('expected leads: [[x, y], ...] or family: ...')
    except (TypeError, ValueError) as exc:
        raise ValueError(f'{source}: {exc}') from None
    return Footprint(footprint.name, footprint.leads, **flags)


def load_footprint(path: str | os.PathLike) -> Footprint:
    """Read the footprint file at `path`."""
    text = read_text(path, 'footprint')
    return parse_footprint(text, str(path))
