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

"""CPU per JPEG for image_raw/compressed against OpenCV's imencode at the same quality.

Run: ``python bench/compression.py`` (options: ``--size 1920 --quality 80 --repeat 20``).

Both encode the same synthetic camera frame (I420). picam_ros encodes from the YUV planes
(``picam_ros.compression.JpegEncoder``, Pillow; limited range as from ffmpeg, full range as
rpicam-vid writes it, which needs no range table); OpenCV is measured twice: ``imencode`` of a
BGR image that already exists (the usual ROS route, cv_bridge ``bgr8``), and ``cvtColor``
I420 -> BGR + ``imencode`` (what it takes from the camera's frame). CPU is
``time.process_time`` per frame, OpenCV on one thread. The goal: within 1.5x of ``imencode``.
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from picam_ros.compression import JpegEncoder
from picam_ros.sources.synthetic import SyntheticConfig, SyntheticSource

GOAL = 1.5


def cpu_ms(work, repeat):
    work()
    start = time.process_time()
    for _ in range(repeat):
        work()
    return (time.process_time() - start) / repeat * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, default=1920)
    parser.add_argument('--quality', type=int, default=80)
    parser.add_argument('--repeat', type=int, default=20)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    with SyntheticSource(SyntheticConfig(width=args.size, height=args.size,
                                         paced=False)) as source:
        frame = source.read(10.0).copy()
    i420 = frame.to_i420().reshape(-1, frame.width)
    bgr = cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420)
    params = [cv2.IMWRITE_JPEG_QUALITY, args.quality]
    encoder = JpegEncoder(args.quality)
    full_range = JpegEncoder(args.quality, full_range=True)
    rows = [
        ('picam_ros JpegEncoder (limited-range I420)', lambda: encoder.encode(frame)),
        ('OpenCV imencode (from BGR)', lambda: cv2.imencode('.jpg', bgr, params)),
        ('OpenCV cvtColor I420->BGR + imencode',
         lambda: cv2.imencode('.jpg', cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420), params)),
        ('picam_ros JpegEncoder grey (luma)', lambda: encoder.encode(frame, grey=True)),
        ('OpenCV imencode grey (luma)', lambda: cv2.imencode('.jpg', frame.y, params)),
        ('picam_ros JpegEncoder (full-range, rpicam-vid)', lambda: full_range.encode(frame)),
    ]
    print(f'{args.size}x{args.size} synthetic frame, JPEG quality {args.quality}, '
          f'{args.repeat} repeats, OpenCV {cv2.__version__}')
    times = {}
    for name, work in rows:
        times[name] = cpu_ms(work, args.repeat)
        print(f'  {name:46s} {times[name]:7.2f} ms CPU/frame')
    sizes = (len(encoder.encode(frame)[1]), len(cv2.imencode('.jpg', bgr, params)[1]))
    print(f'  bytes: picam_ros {sizes[0]}, OpenCV {sizes[1]} '
          f'(raw nv21 {frame.width * frame.height * 3 // 2})')
    for ours in (rows[0][0], rows[5][0]):
        for peer in (rows[1][0], rows[2][0]):
            ratio = times[ours] / times[peer]
            print(f'  {ours} / {peer}: {ratio:.2f}x '
                  f'({"meets" if ratio <= GOAL else "misses"} the {GOAL}x goal)')
    print(f'  grey ratio: {times[rows[3][0]] / times[rows[4][0]]:.2f}x')
    np.testing.assert_equal(frame.width, args.size)


if __name__ == '__main__':
    main()
