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

"""The verdict on a correction: may the controller place the part with it.

A correction alone cannot say whether it is right. The verdict adds what it rests on: how many
leads it places (``matched``) of how many the part has (``expected``), the residual of every
pair, their RMS and maximum, and whether another distinct pose places as many leads with
residuals as good (its worst pair within ``max_residual_mm`` or twice the result's worst:
``AMBIGUOUS``, a one-pitch slip along a row whose end leads are missing, a symmetric part turned
by 90 or 180 degrees). Only a correction that is not
ambiguous, misses at most ``missing_allowed`` leads, leaves at most ``unplaced_allowed`` lead
blobs of the part off every pad, and whose every pair is within
``max_residual_mm`` is a ``PASS``.

:func:`verdict_values` flattens a verdict to the key/value pairs published with the correction
(the ``alignment/verdict`` DiagnosticArray, ``/diagnostics`` and the ``~/align`` answer); the
keys are stable, the operator page and controllers read them by name:

``verdict`` (PASS, FAIL, AMBIGUOUS), ``reason``, ``dx_mm``, ``dy_mm``, ``theta_deg``,
``rms_um``, ``max_residual_um``, ``noise_um`` (pair noise sigma measured from the residuals,
empty when fewer than 5 pairs), ``matched``, ``expected``, ``missing``, ``unplaced`` (lead
blobs within a pitch of the part that land on no pad), ``competitor`` (empty,
or ``dx_mm dy_mm theta_deg matched max_residual_um`` of the best other pose),
``max_residual_limit_um``, ``missing_allowed`` and ``residuals_um``: a JSON list of
``[pad_x_mm, pad_y_mm, ex_um, ey_um]`` per matched pair, the pad's position (board frame, mm
from the datum) and the residual ``pad - corrected lead`` in micrometres.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
from typing import Any

import numpy as np

from picam_ros.core.config import config_field, ConfigBase
from picam_ros.machine.alignment import Alignment

__all__ = ['AMBIGUOUS', 'FAIL', 'PASS', 'VERDICT_KEYS', 'Verdict', 'VerdictParams', 'judge',
           'verdict_values']

PASS, FAIL, AMBIGUOUS = 'PASS', 'FAIL', 'AMBIGUOUS'
#: Every key :func:`verdict_values` returns, in order.
VERDICT_KEYS = ('verdict', 'reason', 'dx_mm', 'dy_mm', 'theta_deg', 'rms_um',
                'max_residual_um', 'noise_um', 'matched', 'expected', 'missing', 'unplaced',
                'competitor', 'max_residual_limit_um', 'missing_allowed', 'residuals_um')


@dataclass(frozen=True)
class VerdictParams(ConfigBase):
    """Tolerances a correction must meet to pass."""

    max_residual_mm: float = config_field(
        0.05, 'A correction passes only if every matched lead lands within this of its pad '
        '(mm).', low=1e-6, high=10.0)
    missing_allowed: int = config_field(
        0, 'Leads the part may miss (expected - matched) and still pass.', low=0,
        high=100_000)
    unplaced_allowed: int = config_field(
        0, 'Blobs on the part (within a pitch of its placed leads) that may land on no pad '
        'and still pass (dust, a bent lead).', low=0, high=100_000)


@dataclass(frozen=True)
class Verdict:
    """PASS, FAIL or AMBIGUOUS, why, and the alignment it judges."""

    status: str
    reason: str
    alignment: Alignment
    params: VerdictParams

    @property
    def passed(self) -> bool:
        return self.status == PASS


def judge(alignment: Alignment, params: VerdictParams | None = None) -> Verdict:
    """Judge `alignment` against `params` (see the module docstring)."""
    params = params or VerdictParams()
    limit = params.max_residual_mm
    if alignment.ambiguous(limit):
        other = alignment.competitor
        if alignment.turned_twin:
            return Verdict(AMBIGUOUS, f'the footprint maps onto itself turned: pin 1 cannot be '
                           f'told (the twin at theta {other.theta:.2f} deg places '
                           f'{other.matched} leads)', alignment, params)
        return Verdict(AMBIGUOUS, f'another pose (dx {other.dx:.3f} mm, dy {other.dy:.3f} mm, '
                       f'theta {other.theta:.2f} deg) places {other.matched} leads as well',
                       alignment, params)
    reasons = []
    missing = alignment.expected - alignment.matched
    if missing > params.missing_allowed:
        reasons.append(f'{missing} of {alignment.expected} leads not on a pad (allowed '
                       f'{params.missing_allowed})')
    if alignment.matched > alignment.expected:
        reasons.append(f'{alignment.matched} blobs placed but the part has '
                       f'{alignment.expected} leads')
    if alignment.unplaced > params.unplaced_allowed:
        reasons.append(f'{alignment.unplaced} lead blob(s) on the part land on no pad '
                       f'(allowed {params.unplaced_allowed})')
    if alignment.max_residual > limit:
        reasons.append(f'max residual {1000 * alignment.max_residual:.1f} um > '
                       f'{1000 * limit:.1f} um')
    if reasons:
        return Verdict(FAIL, '; '.join(reasons), alignment, params)
    return Verdict(PASS, f'{alignment.matched} of {alignment.expected} leads within '
                   f'{1000 * limit:.0f} um', alignment, params)


def verdict_values(verdict: Verdict, pads: Any) -> dict[str, Any]:
    """Return the published key/values (see the module docstring); `pads` as aligned (mm)."""
    a = verdict.alignment
    pads = np.asarray(pads, np.float64)
    other = a.competitor
    residuals = [[round(float(x), 4), round(float(y), 4), round(1000 * float(ex), 2),
                  round(1000 * float(ey), 2)]
                 for (x, y), (ex, ey) in zip(pads[a.pad_index], a.residuals, strict=True)]
    return {
        'verdict': verdict.status,
        'reason': verdict.reason,
        'dx_mm': round(a.dx, 6),
        'dy_mm': round(a.dy, 6),
        'theta_deg': round(a.theta, 6),
        'rms_um': round(1000 * a.rms, 3),
        'max_residual_um': round(1000 * a.max_residual, 3),
        'noise_um': '' if a.noise is None else round(1000 * a.noise, 3),
        'matched': a.matched,
        'expected': a.expected,
        'missing': max(0, a.expected - a.matched),
        'unplaced': a.unplaced,
        'competitor': '' if other is None else (
            f'{other.dx:.6f} {other.dy:.6f} {other.theta:.6f} {other.matched} '
            f'{1000 * other.max_residual:.3f}'),
        'max_residual_limit_um': round(1000 * verdict.params.max_residual_mm, 3),
        'missing_allowed': verdict.params.missing_allowed,
        'residuals_um': json.dumps(residuals, separators=(',', ':')),
    }
