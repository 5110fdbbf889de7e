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

"""What the centroid node costs per frame, processed or skipped, and what message building costs.

    python bench/centroid_node.py [--size 1920] [--repeat 30]

Prints medians and ratios against peers measured in the same run: a processed frame (planes +
engine + cloud) against a skipped one (the decimation decision), and filling ``Image.data``
from an ``array.array`` (what :func:`picam_ros.core.payloads.fill_image` assigns) against a
memoryview or numpy array (what ``array.array('B', value)`` in the Jazzy setter iterates).
ROS serialisation is not measured here (no rclpy); it scales with the bytes of each frame sent.
"""

import argparse
import array
import time

import numpy as np

from picam_ros.centroids.pipeline import CentroidPipeline
from picam_ros.centroids.settings import KeyingProfiles
from picam_ros.core.pacing import DecimationConfig
from picam_ros.core.payloads import cloud_payload, image_payload
from picam_ros.sources.synthetic import SyntheticConfig, SyntheticSource


def median_ms(function, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        function()
        times.append(time.perf_counter_ns() - start)
    return float(np.median(times)) / 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, default=1920, help='frame side in pixels')
    parser.add_argument('--repeat', type=int, default=30, help='timed runs per measurement')
    args = parser.parse_args()

    source = SyntheticSource(SyntheticConfig(width=args.size, height=args.size, paced=False))
    frame = source.render(5)
    payload = image_payload(frame, 'nv21')
    profiles = KeyingProfiles(['pads'])
    pipeline = CentroidPipeline(profiles, profiles.build({}), DecimationConfig(process_every_n=5))

    def processed():
        planes = pipeline.planes(payload.encoding, payload.height, payload.width,
                                 payload.step, payload.data)
        for result in pipeline.process(planes):
            cloud_payload(result.blobs)

    def skipped():
        pipeline.decimator.accept(time.monotonic_ns())

    def build_payload():
        image_payload(frame, 'nv21', out=payload.data)

    data = np.frombuffer(payload.data, np.uint8)
    rows = [
        ('processed frame: planes + engine + cloud', median_ms(processed, args.repeat)),
        ('skipped frame: decimation decision', median_ms(skipped, args.repeat)),
        ('camera: i420 frame -> nv21 payload', median_ms(build_payload, args.repeat)),
        ("Image.data <- array.array (Jazzy setter's copy)",
         median_ms(lambda: array.array('B', payload.data), args.repeat)),
        ("Image.data <- numpy array (setter's slow path)",
         median_ms(lambda: array.array('B', data), max(3, args.repeat // 10))),
    ]
    print(f'{args.size}x{args.size} nv21, {len(payload.data) / 2**20:.2f} MiB per frame')
    for name, ms in rows:
        print(f'  {name:50s} {ms:10.4f} ms')
    print(f'  processed / skipped frame: {rows[0][1] / rows[1][1]:,.0f}x')
    print(f'  numpy / array.array assignment: {rows[4][1] / rows[3][1]:,.0f}x')


if __name__ == '__main__':
    main()
