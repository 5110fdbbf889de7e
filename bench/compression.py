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

Run: ``python bench/compression.py`` (options: ``--size 1920 --quality 80 --repeat 10
--rounds 5``). The rows run interleaved, ``repeat`` encodes each per round, for ``rounds``
rounds; each time is the median over the rounds, and each ratio the median of the ratios
measured within a round (both sides under the same machine load).

Both encode the same synthetic camera frame (I420). picam_ros encodes from the YUV planes
(``picam_ros.camera.compression.JpegEncoder``, Pillow; limited range as from ffmpeg, full range as
rpicam-vid writes it, which needs no range table); OpenCV is measured twice: ``imencode`` of a
BGR image that already exists (the usual ROS route, cv_bridge ``bgr8``), and ``cvtColor``
I420 -> BGR + ``imencode`` (what it takes from the camera's frame). CPU is
``time.process_time`` per frame, OpenCV on one thread. The goal: within 1.5x of ``imencode``.
Two more rows split picam_ros' colour encode into its steps: the YUV -> RGBX kernel and
Pillow's encode of the ready RGBX image; one more shows the route it replaced (Pillow encoding a
ready ``YCbCr`` image).
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

import cv2
import numpy as np
from PIL import Image

from picam_ros import _centroids
from picam_ros.camera.compression import JpegEncoder
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
    parser.add_argument('--repeat', type=int, default=10)
    parser.add_argument('--rounds', type=int, default=5)
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
    u, v = frame.chroma()
    rgbx = np.empty((frame.height, frame.width, 4), np.uint8)
    _centroids.yuv420_to_rgbx(frame.y, u, v, rgbx)
    rgbx_image = Image.frombuffer('RGBX', (frame.width, frame.height), rgbx, 'raw', 'RGBX', 0, 1)
    ycbcr_image = Image.merge('YCbCr', [Image.fromarray(plane) for plane in (
        frame.y, *(np.repeat(np.repeat(c, 2, 0), 2, 1) for c in (u, v)))])

    def pillow(image):
        out = io.BytesIO()
        image.save(out, 'JPEG', quality=args.quality, subsampling=2)
        return out.getvalue()

    ours, ours_full, cv_bgr, cv_i420 = (
        'picam_ros JpegEncoder (limited-range I420)',
        'picam_ros JpegEncoder (full-range, rpicam-vid)',
        'OpenCV imencode (from BGR)', 'OpenCV cvtColor I420->BGR + imencode')
    grey, cv_grey = 'picam_ros JpegEncoder grey (luma)', 'OpenCV imencode grey (luma)'
    rows = {
        ours: lambda: encoder.encode(frame),
        cv_bgr: lambda: cv2.imencode('.jpg', bgr, params),
        ours_full: lambda: full_range.encode(frame),
        cv_i420: lambda: cv2.imencode('.jpg', cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420),
                                      params),
        grey: lambda: encoder.encode(frame, grey=True),
        cv_grey: lambda: cv2.imencode('.jpg', frame.y, params),
        '  step: yuv420_to_rgbx kernel (limited)': lambda: _centroids.yuv420_to_rgbx(
            frame.y, u, v, rgbx),
        '  step: Pillow encode of a ready RGBX image': lambda: pillow(rgbx_image),
        'old route: Pillow encode of a ready YCbCr image': lambda: pillow(ycbcr_image),
    }
    print(f'{args.size}x{args.size} synthetic frame, JPEG quality {args.quality}, '
          f'{args.rounds} rounds x {args.repeat} repeats, interleaved, OpenCV {cv2.__version__}')
    rounds = []
    for _ in range(args.rounds):
        rounds.append({name: cpu_ms(work, args.repeat) for name, work in rows.items()})
    for name in rows:
        times = [r[name] for r in rounds]
        print(f'  {name:48s} {statistics.median(times):7.2f} ms CPU/frame '
              f'(min {min(times):.2f}, max {max(times):.2f})')
    sizes = (len(encoder.encode(frame)[1]), len(cv2.imencode('.jpg', bgr, params)[1]))
    print(f'  bytes: picam_ros {sizes[0]}, OpenCV {sizes[1]} '
          f'(raw nv21 {frame.width * frame.height * 3 // 2})')
    for mine, peer in ((ours, cv_bgr), (ours, cv_i420), (ours_full, cv_bgr),
                       (ours_full, cv_i420), (grey, cv_grey)):
        ratios = [r[mine] / r[peer] for r in rounds]
        ratio = statistics.median(ratios)
        print(f'  {mine} / {peer}: {ratio:.2f}x (rounds {min(ratios):.2f}..{max(ratios):.2f}; '
              f'{"meets" if ratio <= GOAL else "misses"} the {GOAL}x goal)')
    np.testing.assert_equal(frame.width, args.size)


if __name__ == '__main__':
    main()
