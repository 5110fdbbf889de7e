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

"""Benchmark: part alignment accuracy, ours (RANSAC + trimmed ICP + Kabsch) vs the original method.

200 random synthetic scenes per scenario: a SOIC or QFP footprint (pads, mm), leads = pads moved
by a random rigid transform (theta in +-5 deg and shift in +-0.5 mm, then a nearly placed part:
+-1 deg, +-0.1 mm) plus 0.1 px centroid noise, 10% of the
leads missing and 5% extra blobs among both leads and pads. Errors against the known transform,
in pixels at 0.02 mm/px and in degrees. Goals (ours): translation RMS < 0.05 px, rotation
RMS < 0.05 deg.

    python bench/alignment.py [--cases 200] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from picam_ros.alignment import align, align_mean

MM_PER_PIXEL = 0.02
NOISE_PX = 0.1


def rotation(degrees: float) -> np.ndarray:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return np.array([[c, -s], [s, c]])


def footprint(rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.5:  # SOIC: two rows at 1.27 mm pitch
        n, pitch = int(rng.integers(4, 17)), 1.27
        along = (np.arange(n) - (n - 1) / 2) * pitch
        span = rng.uniform(4.0, 7.0)
        rows = [np.c_[along, np.full(n, -span / 2)], np.c_[along, np.full(n, span / 2)]]
    else:  # QFP: four sides
        n, pitch = int(rng.integers(6, 21)), float(rng.choice([0.5, 0.65, 0.8]))
        along = (np.arange(n) - (n - 1) / 2) * pitch
        span = n * pitch + 1.5
        rows = [np.c_[along, np.full(n, -span / 2)], np.c_[along, np.full(n, span / 2)],
                np.c_[np.full(n, -span / 2), along], np.c_[np.full(n, span / 2), along]]
    return np.concatenate(rows) + rng.uniform(-2.0, 2.0, 2)


def scene(rng: np.random.Generator, max_turn: float, max_shift: float):
    pads = footprint(rng)
    theta, shift = rng.uniform(-max_turn, max_turn), rng.uniform(-max_shift, max_shift, 2)
    leads = (pads - shift) @ rotation(theta)
    leads += rng.normal(0, NOISE_PX * MM_PER_PIXEL, leads.shape)
    leads = leads[np.sort(rng.permutation(len(leads))[round(0.1 * len(leads)):])]
    count = math.ceil(0.05 * len(pads))
    centre, size = pads.mean(axis=0), np.ptp(pads, axis=0) * 0.6
    leads = np.concatenate([leads, centre + rng.uniform(-1, 1, (count, 2)) * size])
    pads = np.concatenate([pads, centre + rng.uniform(-1, 1, (count, 2)) * size])
    return leads, pads, theta, shift


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--cases', type=int, default=200)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    print(f'{args.cases} cases per scenario, noise {NOISE_PX} px, 10% leads missing, 5% extra '
          'blobs; errors in px at 0.02 mm/px')
    print(f'{"scenario":<26}{"method":<10}{"trans RMS px":>14}{"trans max px":>14}'
          f'{"rot RMS deg":>13}{"rot max deg":>13}{"ms/case":>9}')
    for label, max_turn, max_shift in (('theta +-5 deg, +-0.5 mm', 5.0, 0.5),
                                       ('theta +-1 deg, +-0.1 mm', 1.0, 0.1)):
        rng = np.random.default_rng(args.seed)
        errors = {'ours': ([], [], []), 'original': ([], [], [])}
        for _ in range(args.cases):
            leads, pads, theta, shift = scene(rng, max_turn, max_shift)
            for name, method in (('ours', align), ('original', align_mean)):
                start = time.perf_counter()
                result = method(leads, pads)
                elapsed = time.perf_counter() - start
                translation, turn, times = errors[name]
                translation.append(np.hypot(result.dx - shift[0], result.dy - shift[1]) /
                                   MM_PER_PIXEL)
                turn.append(result.theta - theta)
                times.append(elapsed)
        for name, (translation, turn, times) in errors.items():
            t, r = np.asarray(translation), np.abs(np.asarray(turn))
            print(f'{label:<26}{name:<10}{np.sqrt(np.mean(t ** 2)):>14.4f}{t.max():>14.4f}'
                  f'{np.sqrt(np.mean(r ** 2)):>13.4f}{r.max():>13.4f}'
                  f'{1e3 * np.mean(times):>9.2f}')
    print('goal (ours): translation RMS < 0.05 px, rotation RMS < 0.05 deg')


if __name__ == '__main__':
    main()
