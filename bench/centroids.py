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

"""Benchmark: picam_ros centroid engine vs OpenCV inRange + connectedComponentsWithStats.

Boards at 1024x1024 and 1920x1920: the project's synthetic PCB scene (picam_ros.synthetic, 400
pads plus component leads), a denser board of 400 large pads of mixed shapes (15% of the pixels
keyed), and that board with 0.2% salt noise above the threshold (thousands of 1-pixel blobs).
Both engines run on one thread in the same process on the same frames; results are checked to
agree before timing.
Also prints the cost of one memcpy of the frame (read once, write once) as a bandwidth floor.

    python bench/centroids.py [--repeat 40] [--connectivity 4]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
import statistics
import time

import cv2
import numpy as np

from picam_ros.centroids.engine import find_centroids, KeyingParams
from picam_ros.sources.synthetic import SyntheticConfig, SyntheticSource

SIZES = (1024, 1920)
PADS_PER_SIDE = 20  # 400 pads


@dataclass(frozen=True)
class Board:
    name: str
    luma: np.ndarray


def make_board(size: int, salt: float, seed: int = 0) -> np.ndarray:
    """Draw a deterministic board: 20x20 pads (rectangles, ellipses, rounded squares).

    Pads are ~70% of a grid pitch apart with jitter, luma 190..240 with sensor noise; the
    substrate is 20..60. `salt` is the fraction of pixels forced to 255 (hot pixels, glints).
    """
    rng = np.random.default_rng(seed)
    luma = rng.integers(20, 61, (size, size), dtype=np.uint8)
    pitch = size / PADS_PER_SIDE
    yy, xx = np.mgrid[0:size, 0:size]
    for row in range(PADS_PER_SIDE):
        for col in range(PADS_PER_SIDE):
            cx = (col + 0.5) * pitch + rng.uniform(-0.1, 0.1) * pitch
            cy = (row + 0.5) * pitch + rng.uniform(-0.1, 0.1) * pitch
            half_w = rng.uniform(0.12, 0.3) * pitch
            half_h = rng.uniform(0.12, 0.3) * pitch
            x0, x1 = int(max(cx - half_w - 2, 0)), int(min(cx + half_w + 3, size))
            y0, x_slice = int(max(cy - half_h - 2, 0)), slice(x0, x1)
            y1 = int(min(cy + half_h + 3, size))
            dx, dy = xx[y0:y1, x_slice] - cx, yy[y0:y1, x_slice] - cy
            shape = (row * PADS_PER_SIDE + col) % 3
            if shape == 0:    # rectangle
                inside = (np.abs(dx) <= half_w) & (np.abs(dy) <= half_h)
            elif shape == 1:  # ellipse
                inside = (dx / half_w) ** 2 + (dy / half_h) ** 2 <= 1.0
            else:             # rounded square (superellipse)
                inside = (np.abs(dx) / half_w) ** 4 + (np.abs(dy) / half_w) ** 4 <= 1.0
            level = rng.integers(190, 241)
            noise = rng.integers(-12, 13, inside.shape)
            patch = luma[y0:y1, x_slice]
            patch[inside] = np.clip(level + noise, 0, 255)[inside]
    if salt:
        hot = rng.random((size, size)) < salt
        luma[hot] = 255
    return luma


def scene_luma(size: int) -> np.ndarray:
    """Frame 0 of the project's synthetic PCB scene with 400 pads (plus components' leads)."""
    source = SyntheticSource(SyntheticConfig(width=size, height=size, layout='mono8', pads=400,
                                             paced=False))
    return source.render(0).y.copy()


def median_ms(functions: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Return the median milliseconds of each function over `repeat` interleaved runs.

    Interleaving makes load from other processes on the machine hit all of them alike.
    """
    times: dict[str, list[int]] = {name: [] for name in functions}
    for function in functions.values():
        function()  # warm caches and scratch buffers
    for _ in range(repeat):
        for name, function in functions.items():
            start = time.perf_counter_ns()
            function()
            times[name].append(time.perf_counter_ns() - start)
    return {name: statistics.median(samples) / 1e6 for name, samples in times.items()}


def opencv_blobs(luma: np.ndarray, params: KeyingParams) -> tuple[np.ndarray, np.ndarray]:
    mask = cv2.inRange(luma, params.luma_min, params.luma_max)
    _, _, stats, centroids = cv2.connectedComponentsWithStats(
        mask, connectivity=params.connectivity, ltype=cv2.CV_32S)
    return stats, centroids


def check_agreement(luma: np.ndarray, params: KeyingParams) -> int:
    """Check ours equals OpenCV (areas, boxes exactly, centroids to 1e-9); return the count."""
    ours = find_centroids(luma, params)
    assert ours.dropped == 0
    stats, centroids = opencv_blobs(luma, params)
    theirs = np.rec.fromarrays(
        [stats[1:, 0], stats[1:, 1], stats[1:, 2], stats[1:, 3], stats[1:, 4],
         centroids[1:, 0], centroids[1:, 1]],
        names='bbox_x,bbox_y,bbox_w,bbox_h,area,x,y')
    keys = ('bbox_y', 'bbox_x', 'area')
    mine = np.sort(ours.blobs[['bbox_x', 'bbox_y', 'bbox_w', 'bbox_h', 'area', 'x', 'y']],
                   order=keys)
    theirs = np.sort(theirs, order=keys)
    if len(mine) != len(theirs):
        raise AssertionError(f'blob count differs: ours {len(mine)}, OpenCV {len(theirs)}')
    for name in ('bbox_x', 'bbox_y', 'bbox_w', 'bbox_h', 'area'):
        if not np.array_equal(mine[name].astype(np.int64), theirs[name].astype(np.int64)):
            raise AssertionError(f'{name} differs from OpenCV')
    for name in ('x', 'y'):
        if np.max(np.abs(mine[name] - theirs[name]), initial=0.0) > 1e-9:
            raise AssertionError(f'centroid {name} differs from OpenCV by more than 1e-9')
    return len(mine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=40, help='timed runs per case (median)')
    parser.add_argument('--connectivity', type=int, choices=(4, 8), default=4)
    args = parser.parse_args()

    cv2.setNumThreads(1)
    params = KeyingParams(luma_min=150, luma_max=255, connectivity=args.connectivity,
                          max_centroids=1_000_000)
    boards = []
    for size in SIZES:
        boards.append(Board(f'{size}x{size} scene', scene_luma(size)))
        boards.append(Board(f'{size}x{size} pads', make_board(size, 0.0)))
        boards.append(Board(f'{size}x{size} pads+salt', make_board(size, 0.002)))
    boards.append(Board(f'{SIZES[-1]}x{SIZES[-1]} dark', np.full((SIZES[-1],) * 2, 40, np.uint8)))

    print(f'OpenCV {cv2.__version__} (threads: {cv2.getNumThreads()}), numpy {np.__version__},'
          f' connectivity {args.connectivity}, median of {args.repeat} interleaved runs')
    print('memcpy = copying the luma plane once (np.copyto into a preallocated array)')
    header = (f'{"board":<22}{"blobs":>7}{"ours ms":>10}{"opencv ms":>11}{"speedup":>9}'
              f'{"memcpy ms":>11}{"ours/memcpy":>13}')
    print(header)
    print('-' * len(header))
    for board in boards:
        luma = board.luma
        copy = np.empty_like(luma)
        blobs = check_agreement(luma, params)
        ms = median_ms({
            'ours': lambda luma=luma: find_centroids(luma, params),
            'opencv': lambda luma=luma: opencv_blobs(luma, params),
            'memcpy': lambda luma=luma, copy=copy: np.copyto(copy, luma),
        }, args.repeat)
        print(f'{board.name:<22}{blobs:>7}{ms["ours"]:>10.3f}{ms["opencv"]:>11.3f}'
              f'{ms["opencv"] / ms["ours"]:>8.1f}x{ms["memcpy"]:>11.3f}'
              f'{ms["ours"] / ms["memcpy"]:>12.1f}x')


if __name__ == '__main__':
    main()
