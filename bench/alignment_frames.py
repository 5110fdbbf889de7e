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

"""Benchmark: alignment end to end from rendered frames, against the synthetic scene's truth.

For ``--poses`` random poses (a land pattern of the seed: 8-28 leads on two or four sides,
12-19 px pitch; the part at a sub-pixel offset of up to +-``--offset`` px from the nozzle,
turned by up to +-``--turn`` degrees; the nozzle itself off the frame centre by a sub-pixel
amount) the synthetic ``footprint`` (down camera) and ``part`` (up camera) scenes are rendered
and the real pipeline runs on the frames: keying and centroids (the C++ engine, the machine's
``pads`` and chroma-gated ``leads`` profiles), calibration to mm (``--scale`` mm/px, nozzle and
datum where the scenes put them) and alignment. The error of the correction against
``alignment_truth()`` is printed as p50 / p99 / max in um and degrees for ``align`` (ours),
``align_mean`` (the original machine's method) and the least-squares fit on the known lead/pad
pairs (the floor with these centroids) in the same run.

The scenes are rendered as a sensor sees them (``--edges area``: an edge pixel's luma is the
share of it a pad or lead covers; ``--sensor-noise`` 2: Gaussian read noise of 2 luma steps,
fresh on every frame of both cameras); ``--edges sharp --sensor-noise 0`` renders the
noise-free, point-sampled shapes (a pixel is in when its centre is).

Repeatability: one pose rendered ``--repeats`` times with fresh sensor noise on both cameras
(successive frame numbers), 1-sigma of dx, dy and theta. Without sensor noise it reads 0: the
uniform noise tile never crosses the key.

    python bench/alignment_frames.py [--poses 100] [--size 1024] [--scale 0.02]
        [--edges area|sharp] [--sensor-noise 2]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from picam_ros.machine.alignment import align_mean, rigid_fit
from picam_ros.machine.calibration import CameraGeometry, MachineCalibration
from picam_ros.machine.vision import MachineVision
from picam_ros.sources.synthetic import EDGES, KIND_LEAD, SyntheticConfig, SyntheticSource


def pattern_index(blobs: np.ndarray, truth: np.ndarray, first_id: int) -> np.ndarray:
    """Land pattern index of each measured blob (its ground-truth shape), -1 if none.

    Within a pixel: with area edges or sensor noise the key differs from the shapes' centre
    rule at the edges (shapes are at least 3 px apart, so the nearest is the one).
    """
    points = np.column_stack([blobs['x'], blobs['y']]).astype(np.float64)
    known = np.column_stack([truth['x'], truth['y']])
    distance = np.linalg.norm(points[:, None, :] - known[None, :, :], axis=2)
    nearest = np.argmin(distance, axis=1)
    found = distance[np.arange(len(points)), nearest] < 1.0
    return np.where(found, truth['pad_id'][nearest] - first_id, -1)


class Bench:
    """Scenes, calibration and the three methods for one frame size and scale."""

    def __init__(self, size: int, scale: float, edges: str = 'area',
                 sensor_noise: float = 0.0) -> None:
        self.size, self.scale = size, scale
        self.sensor = {'edges': edges, 'sensor_noise': sensor_noise}
        self._footprints: dict[int, SyntheticSource] = {}

    def footprint(self, seed: int, sequence: int) -> tuple:
        """Return board frame number `sequence` of the seed's land pattern, and its truth."""
        if seed not in self._footprints:
            self._footprints[seed] = SyntheticSource(SyntheticConfig(
                width=self.size, height=self.size, scene='footprint', paced=False, seed=seed,
                **self.sensor))
        source = self._footprints[seed]
        frame = source.render(sequence)
        return frame, source.ground_truth(frame)

    def run(self, seed: int, pose: dict, sequence: int = 0) -> dict:
        """Return the errors (um, degrees) of each method for one rendered pose."""
        board_frame, board_truth = self.footprint(seed, sequence)
        up = SyntheticSource(SyntheticConfig(width=self.size, height=self.size, scene='part',
                                             paced=False, seed=seed, **self.sensor, **pose))
        frame = up.render(sequence)
        nozzle = up.config.nozzle
        down = CameraGeometry(self.size, self.size, self.scale)
        vision = MachineVision(MachineCalibration(
            down, CameraGeometry(self.size, self.size, self.scale, *nozzle)))
        board = vision.measure_board(board_frame)
        component = vision.measure_component(frame)
        truth = np.array(up.alignment_truth()) * [self.scale, self.scale, 1.0]
        results = {'ours': vision.align(board, component),
                   'original': align_mean(component.mm, board.mm)}
        up_truth = up.ground_truth(frame)
        leads_id = pattern_index(component.blobs, up_truth[up_truth['kind'] == KIND_LEAD],
                                 first_id=1)   # shape 0 is the nozzle
        pads_id = pattern_index(board.blobs, board_truth, first_id=0)
        pairs = [(i, int(np.flatnonzero(pads_id == k)[0])) for i, k in enumerate(leads_id)
                 if k >= 0 and np.any(pads_id == k)]
        lead_rows, pad_rows = (np.array(side) for side in zip(*pairs, strict=True))
        angle, shift = rigid_fit(component.mm[lead_rows], board.mm[pad_rows])
        errors = {name: (1000 * math.hypot(r.dx - truth[0], r.dy - truth[1]),
                         r.theta - truth[2], r.dx, r.dy, r.theta)
                  for name, r in results.items()}
        errors['known pairs'] = (1000 * math.hypot(shift[0] - truth[0], shift[1] - truth[1]),
                                 math.degrees(angle) - truth[2], shift[0], shift[1],
                                 math.degrees(angle))
        errors['leads'] = len(component.mm)
        return errors


def random_pose(rng: np.random.Generator, offset: float, turn: float) -> dict:
    return {'part_dx': float(rng.uniform(-offset, offset)),
            'part_dy': float(rng.uniform(-offset, offset)),
            'part_theta': float(rng.uniform(-turn, turn)),
            'nozzle_dx': float(rng.uniform(-8, 8)), 'nozzle_dy': float(rng.uniform(-8, 8))}


def percentiles(values: list[float]) -> str:
    v = np.abs(np.asarray(values))
    return f'{np.percentile(v, 50):8.3f}{np.percentile(v, 99):8.3f}{v.max():8.3f}'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--poses', type=int, default=100)
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--size', type=int, default=1024, help='frame side, px')
    parser.add_argument('--scale', type=float, default=0.02, help='mm per pixel, both cameras')
    parser.add_argument('--offset', type=float, default=40.0, help='part offset, px')
    parser.add_argument('--turn', type=float, default=30.0, help='part turn, degrees')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--edges', choices=EDGES, default='area',
                        help="the scenes' edges: area (as a sensor sees them) or sharp")
    parser.add_argument('--sensor-noise', type=float, default=2.0,
                        help='Gaussian read noise per frame, sigma in luma steps')
    args = parser.parse_args()
    bench = Bench(args.size, args.scale, args.edges, args.sensor_noise)
    rng = np.random.default_rng(args.seed)
    names = ('ours', 'original', 'known pairs')
    errors: dict[str, tuple[list, list]] = {name: ([], []) for name in names}
    leads = []
    start = time.perf_counter()
    for index in range(args.poses):
        seed = int(rng.integers(0, 8))    # eight land patterns, each at many poses
        out = bench.run(seed, random_pose(rng, args.offset, args.turn), sequence=index)
        leads.append(out['leads'])
        for name in names:
            errors[name][0].append(out[name][0])
            errors[name][1].append(out[name][1])
    elapsed = time.perf_counter() - start
    print(f'{args.poses} poses, {args.size}x{args.size} frames, {args.scale} mm/px, part offset '
          f'+-{args.offset:g} px, turn +-{args.turn:g} deg, {min(leads)}-{max(leads)} leads, '
          f'{args.edges} edges, sensor noise {args.sensor_noise:g}; {elapsed:.0f} s')
    print(f'{"method":<13}{"position um p50/p99/max":>24}{"rotation deg p50/p99/max":>26}')
    for name in names:
        position, rotation = errors[name]
        print(f'{name:<13}{percentiles(position):>24}{percentiles(rotation):>26}')
    print(f'position in pixels: divide by {1000 * args.scale:g}')
    pose = random_pose(np.random.default_rng(args.seed + 1), args.offset, args.turn)
    repeated = np.array([bench.run(3, pose, sequence=k)['ours'][2:] for k in
                         range(args.repeats)])
    sigma = repeated.std(axis=0, ddof=1)
    print(f'repeatability, one pose rendered {args.repeats} times with fresh noise (1-sigma): '
          f'dx {1000 * sigma[0]:.3f} um, dy {1000 * sigma[1]:.3f} um, theta '
          f'{sigma[2]:.4f} deg')


if __name__ == '__main__':
    main()
