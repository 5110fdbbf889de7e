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

"""Benchmark: alignment correctness and efficiency per footprint family, against the floor.

For every family of ``picam_ros.machine.alignment_cases`` (2-pad passives, SOT-23, SOIC,
TSSOP, QFP, QFN, BGA), ``--cases`` random cases: rotation within +-``--max-turn`` degrees,
pick offset up to ``--max-offset`` mm (more than a fine pitch), ``--noise`` mm centroid
sigma on leads and pads,
``--lost`` of the leads lost (10%) and ``--extra`` stray blobs on both sides (5%). Per family:

- verdicts (PASS / FAIL / AMBIGUOUS) and **wrong**: a non-ambiguous correction that moves some
  real lead more than ``--wrong-mm`` from where the least-squares fit on the known pairs puts
  it (a slip or a stray pair; the noise of the known-pairs fit itself is not counted), and
  **wrong PASS**: such a correction passed (the goal: 0);
- efficiency: median position error and median / sigma of the rotation error of ``align``
  divided by those of the least-squares fit on the known lead/pad pairs of the same cases
  (the floor, measured in this run; the goal: <= 1.1), and the same for the original method
  (``align_mean``) for comparison;
- ms per case.

``--footprint`` passes each case's footprint (360-degree search, expected count from it;
passives not polarised); use it with ``--max-turn 180``. A lost lead or a stray blob on the
part is a FAIL by the default verdict tolerances (no lead may be missing or land on no pad):
``--lost 0 --extra 0`` shows the verdicts of parts that should pass.

    python bench/alignment.py [--cases 1000] [--families soic,bga] [--footprint --max-turn 180]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from picam_ros.machine.alignment import align, align_mean, rigid_fit
from picam_ros.machine.alignment_cases import FAMILY_NAMES, make_case
from picam_ros.machine.footprint import Footprint
from picam_ros.machine.verdict import AMBIGUOUS, judge, PASS


def _moved(leads: np.ndarray, theta: float, shift: np.ndarray) -> np.ndarray:
    angle = math.radians(theta)
    c, s = math.cos(angle), math.sin(angle)
    return leads @ np.array([[c, -s], [s, c]]).T + shift


def run_family(family: str, args: argparse.Namespace) -> dict:
    verdicts = {PASS: 0, 'FAIL': 0, AMBIGUOUS: 0}
    wrong = wrong_pass = 0
    errors = {'ours': ([], []), 'floor': ([], []), 'original': ([], [])}
    elapsed = 0.0
    for index in range(args.cases):
        case = make_case(family, args.seed + index, max_turn=args.max_turn,
                         max_offset=args.max_offset, noise=args.noise, missing=args.lost,
                         extra=args.extra)
        # Passives are not polarised: both ways round are the same placement.
        footprint = (Footprint(case.name, case.footprint, polarised=family != 'chip')
                     if args.footprint else None)
        start = time.perf_counter()
        try:
            result = align(case.leads, case.pads, footprint=footprint)
        except LookupError:
            verdicts['FAIL'] += 1
            continue
        elapsed += time.perf_counter() - start
        verdict = judge(result)
        verdicts[verdict.status] += 1
        real = case.leads[case.lead_pad >= 0]
        angle, shift = rigid_fit(*case.known_pairs)
        truth_theta, truth_shift = case.theta, case.shift
        if footprint is not None and not footprint.polarised and abs(
                (result.theta - case.theta + 180) % 360 - 180) > 90:
            # The same placement turned by 180 degrees about the pads' centre: compare with
            # the truth and the floor turned the same way.
            centre = case.known_pairs[1].mean(axis=0)
            truth_theta, truth_shift = case.theta + 180, 2 * centre - case.shift
            angle, shift = angle + math.pi, 2 * centre - shift
        floor = _moved(real, math.degrees(angle), shift)
        if footprint is not None and not footprint.polarised:
            # Turned onto itself it is the same placement: each lead to the nearest fit spot.
            gaps = np.linalg.norm(result.apply(real)[:, None, :] - floor[None, :, :], axis=2)
            deviation = np.max(gaps.min(axis=1))
        else:
            deviation = np.max(np.linalg.norm(result.apply(real) - floor, axis=1))
        if verdict.status != AMBIGUOUS and deviation > args.wrong_mm:
            wrong += 1
            wrong_pass += verdict.passed
            if args.verbose:
                print(f'  wrong: {family} seed {args.seed + index} {case.name}: '
                      f'{1000 * deviation:.0f} um, {verdict.status} ({verdict.reason})')
            continue
        if verdict.status == AMBIGUOUS:
            continue
        mean = align_mean(case.leads, case.pads)
        for name, (dx, dy, theta) in (('ours', (result.dx, result.dy, result.theta)),
                                      ('floor', (*shift, math.degrees(angle))),
                                      ('original', (mean.dx, mean.dy, mean.theta))):
            errors[name][0].append(math.hypot(dx - truth_shift[0], dy - truth_shift[1]))
            errors[name][1].append((theta - truth_theta + 180) % 360 - 180)
    return {'verdicts': verdicts, 'wrong': wrong, 'wrong_pass': wrong_pass,
            'errors': errors, 'ms': 1000 * elapsed / args.cases}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--cases', type=int, default=300, help='cases per family')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--families', default=','.join(FAMILY_NAMES))
    parser.add_argument('--max-turn', type=float, default=30.0, help='degrees')
    parser.add_argument('--max-offset', type=float, default=1.5, help='mm')
    parser.add_argument('--noise', type=float, default=0.01, help='mm, per axis')
    parser.add_argument('--lost', type=float, default=0.1, help='share of leads lost')
    parser.add_argument('--extra', type=float, default=0.05,
                        help='share of stray blobs among leads and among pads')
    parser.add_argument('--wrong-mm', type=float, default=0.05)
    parser.add_argument('--footprint', action='store_true')
    parser.add_argument('--verbose', action='store_true')
    args = parser.parse_args()
    print(f'{args.cases} cases per family, turn +-{args.max_turn:g} deg, offset <= '
          f'{args.max_offset:g} mm, noise {1000 * args.noise:g} um, {100 * args.lost:g}% leads '
          f'lost, {100 * args.extra:g}% stray blobs, footprint '
          f'{"given" if args.footprint else "not given"}')
    print('ratios are median |error| (and sigma of the rotation error) over the known-pairs '
          'least-squares floor of the same run, over the cases that are not ambiguous')
    print(f'{"family":<8}{"PASS":>6}{"FAIL":>6}{"AMBIG":>6}{"wrong":>6}{"wrong PASS":>11}'
          f'{"pos":>7}{"rot":>7}{"rot sd":>7}{"orig pos":>9}{"orig rot":>9}'
          f'{"floor um":>9}{"ms":>7}')
    for family in args.families.split(','):
        out = run_family(family, args)
        errors = out['errors']
        floor_pos, floor_rot = (np.asarray(v) for v in errors['floor'])
        ratios = [(math.nan,) * 3] * 2     # every case ambiguous or wrong: nothing to compare
        if len(floor_pos) > 1:
            ratios = []
            for name in ('ours', 'original'):
                pos, rot = (np.asarray(v) for v in errors[name])
                ratios.append((np.median(pos) / np.median(floor_pos),
                               np.median(np.abs(rot)) / np.median(np.abs(floor_rot)),
                               np.std(rot) / np.std(floor_rot)))
        v = out['verdicts']
        print(f'{family:<8}{v[PASS]:>6}{v["FAIL"]:>6}{v[AMBIGUOUS]:>6}{out["wrong"]:>6}'
              f'{out["wrong_pass"]:>11}{ratios[0][0]:>7.3f}{ratios[0][1]:>7.3f}'
              f'{ratios[0][2]:>7.3f}{ratios[1][0]:>9.2f}{ratios[1][1]:>9.2f}'
              f'{1000 * np.median(floor_pos) if len(floor_pos) else math.nan:>9.2f}'
              f'{out["ms"]:>7.1f}')


if __name__ == '__main__':
    main()
