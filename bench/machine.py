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


"""Benchmark: the machine node's per-frame work on its capture threads, 1024x1024 synthetic pairs.

Per board frame: compose with the newest component frame (``MachineVision.on_down``) and
copy the composite into the stream/topic mailbox; per component frame: keep a copy
(``on_up``). At ``centroid_rate_hz``: both profiles measured (pads, chroma-gated leads) and the
alignment. Printed per step (median of ``--repeat``) and as the share of a 25 fps frame period.

    python bench/machine.py [--repeat 50] [--size 1024]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from picam_ros.machine.calibration import CameraGeometry, MachineCalibration
from picam_ros.machine.vision import MachineVision
from picam_ros.sources.synthetic import SyntheticConfig, SyntheticSource


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=50, help='timed runs per step (median)')
    parser.add_argument('--size', type=int, default=1024, help='frame side, even')
    args = parser.parse_args()
    size = {'width': args.size, 'height': args.size, 'paced': False}
    up = SyntheticSource(SyntheticConfig(**size, scene='part', part_dx=4.0, part_theta=5.0))
    down = SyntheticSource(SyntheticConfig(**size, scene='footprint'))
    fu, fd = up.render(0), down.render(0)
    geometry = CameraGeometry(args.size, args.size, 0.02)
    vision = MachineVision(MachineCalibration(geometry, geometry))
    vision.on_up(fu)
    vision.on_down(fd)
    mailbox = np.empty_like(vision.composite_output)
    board, component = vision.measure_board(fd), vision.measure_component(fu)
    steps = {
        'on_up (copy component frame)': lambda: vision.on_up(fu),
        'on_down (composite + crosshair)': lambda: vision.on_down(fd),
        'composite -> mailbox copy': lambda: np.copyto(mailbox, vision.composite_output),
        'pads centroids (board)': lambda: vision.measure_board(fd),
        'leads centroids (component, chroma)': lambda: vision.measure_component(fu),
        'alignment (leads onto pads)': lambda: vision.align(board, component),
    }
    print(f'{args.size}x{args.size}, {board.count} pads, {component.count} leads, '
          f'median of {args.repeat}')
    per_frame = 0.0
    for name, step in steps.items():
        ms = median_ms(step, args.repeat)
        if not name.startswith(('pads', 'leads', 'alignment')):
            per_frame += ms
        print(f'  {name:38s} {ms:8.3f} ms')
    print(f'  every frame pair (first three)          {per_frame:8.3f} ms = '
          f'{per_frame / 40.0 * 100:.1f}% of a 25 fps period')


if __name__ == '__main__':
    main()
