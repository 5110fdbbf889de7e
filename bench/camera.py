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

"""Camera capture path costs: conversions, ROS payload building, source -> message-ready bytes.

Run: ``python bench/camera.py`` (options: ``--sizes 1920 1024 --frames 60``).

Prints, per frame size:

1. conversion cost per frame (into reused ``out`` buffers) next to a plain copy of the frame
   (the memory-bandwidth floor) and, for BGR, OpenCV's ``cvtColor`` when it is installed;
2. the cost of turning a packed NV21 frame into the ``array.array('B')`` a ROS Image message
   stores, by every route in use (FACTS: numpy -> array.array is ~100x slower than bytes);
3. the whole capture path: source -> Frame (read + stamp) -> NV21 written straight into an
   ``array.array`` payload buffer, with a raw pipe writer (like rpicam-vid; as fast as it can
   and paced at 25 frames/s), ffmpeg decoding a raw file, and the synthetic source; frames/s
   and CPU per frame (``time.process_time``: all threads of this process, so the reader
   thread is included, the child's own work is not);

and checks the goal: read + stamp + nv21 + payload under 20% of the 40 ms frame period.
"""

from __future__ import annotations

import argparse
import array
from collections.abc import Callable
import os
import statistics
import sys
import tempfile
import textwrap
import time

import numpy as np

from picam_ros.core import frames
from picam_ros.core.frames import Frame, FrameFormat
from picam_ros.sources import CaptureConfig, FfmpegConfig, FfmpegSource, ProcessSource
from picam_ros.sources.synthetic import SyntheticConfig, SyntheticSource

GOAL_MS = 0.2 * 40.0

WRITER = textwrap.dedent("""
    import sys, time
    path, size, fps = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    with open(path, 'rb') as f:
        frames = f.read()
    out = sys.stdout.buffer
    count = len(frames) // size
    start, n = time.monotonic(), 0
    while True:
        out.write(frames[(n % count) * size:(n % count + 1) * size])
        out.flush()
        n += 1
        if fps > 0:
            time.sleep(max(0.0, start + n / fps - time.monotonic()))
""")


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(median wall ms, mean CPU ms) of ``fn`` over ``repeat`` calls after one warm-up."""
    fn()
    walls = []
    cpu0 = time.process_time()
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
    cpu = (time.process_time() - cpu0) / repeat
    return statistics.median(walls) * 1e3, cpu * 1e3


def row(label: str, wall: float, cpu: float, peer: float | None = None, peer_name: str = ''
        ) -> None:
    ratio = f'  {wall / peer:7.2f}x {peer_name}' if peer else ''
    print(f'  {label:<44} {wall:8.2f} ms  cpu {cpu:8.2f} ms{ratio}')


def bench_conversions(frame: Frame, repeat: int) -> None:
    w, h = frame.width, frame.height
    print(f'\n[conversions] {w}x{h} i420 -> packed outputs, reused out buffers')
    packed = np.empty(w * h * 3 // 2, np.uint8)
    mono = np.empty((h, w), np.uint8)
    bgr = np.empty((h, w, 3), np.uint8)
    copy_wall, copy_cpu = timed(lambda: np.copyto(packed, frame.data), repeat)
    row('copy of the frame (floor)', copy_wall, copy_cpu)
    for name, fn in (('to_nv21', lambda: frame.to_nv21(packed)),
                     ('to_nv12', lambda: frame.to_nv12(packed)),
                     ('to_i420 (stride removal)', lambda: frame.to_i420(packed)),
                     ('to_mono8', lambda: frame.to_mono8(mono))):
        wall, cpu = timed(fn, repeat)
        row(name, wall, cpu, copy_wall, 'vs copy')
    few = max(3, repeat // 10)
    u, v = frame.chroma()
    numpy_wall, numpy_cpu = timed(
        lambda: frames.yuv420_to_bgr_numpy(frame.y, u, v, bgr), few)
    native = frames._native_yuv420_to_bgr
    try:
        import cv2
    except ImportError:
        cv2 = None
    peer, peer_name = copy_wall, 'vs copy'
    if cv2 is not None:
        image = frame.data.reshape(h * 3 // 2, w)
        peer, cv_cpu = timed(lambda: cv2.cvtColor(image, cv2.COLOR_YUV2BGR_I420, dst=bgr),
                             repeat)
        peer_name = 'vs cv2'
        row('cv2.cvtColor(COLOR_YUV2BGR_I420) (peer)', peer, cv_cpu)
    if native is not None:
        wall, cpu = timed(lambda: native(frame.y, u, v, bgr), repeat)
        row('to_bgr, C++ kernel', wall, cpu, peer, peer_name)
    else:
        print('  (C++ to_bgr kernel not registered in picam_ros._centroids)')
    row('to_bgr, numpy kernel', numpy_wall, numpy_cpu, peer, peer_name)


def bench_payload(frame: Frame, repeat: int) -> float:
    """Cost of building an Image payload; returns the route we use (write into array.array)."""
    w, h = frame.width, frame.height
    nv21 = frame.to_nv21()
    print(f'\n[ROS payload] {w}x{h} nv21 ({nv21.nbytes / 2**20:.2f} MiB) -> array.array("B")')

    def from_frombytes() -> array.array:
        a = array.array('B')
        a.frombytes(memoryview(nv21))
        return a

    reused = array.array('B', bytes(nv21.nbytes))
    reused_view = np.frombuffer(reused, np.uint8)
    base_wall, base_cpu = timed(from_frombytes, repeat)
    row("a = array('B'); a.frombytes(memoryview)", base_wall, base_cpu)
    wall, cpu = timed(lambda: array.array('B', nv21.tobytes()), repeat)
    row("array('B', ndarray.tobytes())", wall, cpu, base_wall, 'vs frombytes')
    wall, cpu = timed(lambda: array.array('B', memoryview(nv21)), 1)
    row("array('B', memoryview)", wall, cpu, base_wall, 'vs frombytes')
    wall, cpu = timed(lambda: array.array('B', nv21), 1)
    row("array('B', ndarray)", wall, cpu, base_wall, 'vs frombytes')
    ours_wall, ours_cpu = timed(lambda: frame.to_nv21(reused_view), repeat)
    row('to_nv21 straight into a reused array.array', ours_wall, ours_cpu, base_wall,
        'vs frombytes')
    return ours_wall


def pipe_source(frames: list[Frame], tmp: str, fps: float = 0.0) -> ProcessSource:
    fmt = frames[0].format
    path = os.path.join(tmp, f'frames_{fmt.width}x{fmt.height}.yuv')
    with open(path, 'wb') as f:
        f.writelines(frame.data.tobytes() for frame in frames)
    cfg = CaptureConfig(width=fmt.width, height=fmt.height, fps=25.0)
    return ProcessSource(cfg, fmt, [sys.executable, '-c', WRITER, path, str(fmt.frame_bytes),
                                    str(fps)])


def ffmpeg_raw_source(frames: list[Frame], tmp: str) -> FfmpegSource:
    fmt = frames[0].format
    path = os.path.join(tmp, f'frames_{fmt.width}x{fmt.height}.yuv')
    cfg = FfmpegConfig(input=path, width=fmt.width, height=fmt.height, fps=25.0,
                       realtime=False, loop=True,
                       input_args=f'-f rawvideo -pix_fmt yuv420p -video_size '
                                  f'{fmt.width}x{fmt.height} -framerate 25')
    return FfmpegSource(cfg)


def bench_pipeline(name: str, source, count: int) -> tuple[float, float]:
    """Frames/s and CPU ms per frame of read -> nv21 into an array.array payload."""
    fmt = source.format
    payload = array.array('B', bytes(fmt.width * fmt.height * 3 // 2))
    view = np.frombuffer(payload, np.uint8)
    with source:
        for _ in range(5):  # warm up: child started, caches hot
            source.read(timeout=30).to_nv21(view)
        cpu0, t0 = time.process_time(), time.perf_counter()
        for _ in range(count):
            frame = source.read(timeout=30)
            frame.to_nv21(view)
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        stats = source.stats
    fps = count / wall
    cpu_ms = cpu / count * 1e3
    print(f'  {name:<44} {fps:8.1f} frames/s  cpu {cpu_ms:6.2f} ms/frame  '
          f'({cpu_ms / GOAL_MS * 100:5.1f}% of the {GOAL_MS:g} ms budget; '
          f'drops {stats.drops})')
    return fps, cpu_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[1920, 1024])
    parser.add_argument('--frames', type=int, default=60, help='frames per pipeline run')
    parser.add_argument('--repeat', type=int, default=30, help='repetitions per conversion')
    args = parser.parse_args()
    print(f'numpy {np.__version__}, python {sys.version.split()[0]}, {os.cpu_count()} CPUs')
    verdicts = []
    with tempfile.TemporaryDirectory() as tmp:
        for side in args.sizes:
            synthetic = SyntheticSource(SyntheticConfig(width=side, height=side, paced=False))
            frames = [synthetic.render(n) for n in range(0, 40, 5)]
            print(f'\n===== {side}x{side} =====')
            bench_conversions(frames[0], args.repeat)
            bench_payload(frames[0], args.repeat)
            print(f'\n[pipeline] {side}x{side}: source -> Frame -> nv21 payload')
            _, pipe_cpu = bench_pipeline('raw pipe writer (like rpicam-vid)',
                                         pipe_source(frames, tmp), args.frames)
            bench_pipeline('raw pipe writer paced at 25 frames/s', pipe_source(frames, tmp, 25.0),
                           args.frames)
            bench_pipeline('ffmpeg decoding a raw file', ffmpeg_raw_source(frames, tmp),
                           args.frames)
            bench_pipeline('synthetic (render included)', synthetic, args.frames)
            verdicts.append((side, pipe_cpu))
            padded = FrameFormat(side - 60, side, 'i420', side)
            frame = Frame(padded)
            out = np.empty(padded.packed_bytes, np.uint8)
            wall, _ = timed(lambda frame=frame, out=out: frame.to_nv21(out), args.repeat)
            print(f'  (to_nv21 of a padded {padded}: {wall:.2f} ms)')
    print('\n[goal] read + stamp + nv21 + payload CPU per frame < 20% of 40 ms:')
    for side, cpu_ms in verdicts:
        verdict = 'PASS' if cpu_ms < GOAL_MS else 'FAIL'
        print(f'  {side}x{side}: {cpu_ms:.2f} ms = {cpu_ms / 40 * 100:.1f}% of 40 ms  {verdict}')


if __name__ == '__main__':
    main()
