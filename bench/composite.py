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

"""Benchmark: the C++ composite + crosshair kernel vs its NumPy statement, 1024x1024 I420 pairs.

Both run on one thread in the same process on the same frames (a board frame and a component
frame with about half the up window passing the chroma key, offset (12, -8), crosshair on);
results are checked to be identical before timing. Goal: < 1.5 ms per pair.

    python bench/composite.py [--repeat 200] [--size 1024]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from picam_ros.machine.composite import composite_numpy, CompositeParams, Compositor, I420Planes


def frame(rng: np.random.Generator, size: int, u_range, v_range) -> I420Planes:
    half = size // 2
    return I420Planes(rng.integers(0, 256, (size, size), dtype=np.uint8),
                      rng.integers(*u_range, (half, half), dtype=np.uint8),
                      rng.integers(*v_range, (half, half), dtype=np.uint8))


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=200, help='timed runs per engine (median)')
    parser.add_argument('--size', type=int, default=1024, help='frame side, even')
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    down = frame(rng, args.size, (100, 160), (80, 180))
    up = frame(rng, args.size, (100, 201), (40, 141))  # ~ half the samples pass the key
    params = CompositeParams(offset_x=12, offset_y=-8, nozzle_x=5, nozzle_y=-3, thickness=3)
    compositor = Compositor(params)
    reference = I420Planes(*(np.empty_like(plane) for plane in down))
    ours = compositor.compose(down, up)
    composite_numpy(down, up, params, reference)
    for mine, theirs in zip(ours, reference):
        if not np.array_equal(mine, theirs):
            raise AssertionError('C++ and NumPy composites differ')
    cpp = median_ms(lambda: compositor.compose(down, up), args.repeat)
    numpy_ms = median_ms(lambda: composite_numpy(down, up, params, reference),
                         max(args.repeat // 10, 5))
    print(f'composite + crosshair, {args.size}x{args.size} I420 pair, numpy {np.__version__}')
    print(f'C++   {cpp:8.3f} ms/pair (goal < 1.5 ms)')
    print(f'NumPy {numpy_ms:8.3f} ms/pair')
    print(f'ratio NumPy / C++ = {numpy_ms / cpp:.1f}x')


if __name__ == '__main__':
    main()
