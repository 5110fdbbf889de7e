#!/usr/bin/env python3
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

"""Long run of the camera node, the centroid node and the standalone runner: memory slope.

    python bench/soak.py --minutes 60            # needs rclpy for the nodes (else runner only)

Starts the graph of stream.launch.py without a stream (camera node at 1024x1024@25 from the
synthetic scene, centroid node on the camera's 5 Hz throttled topic) and, beside it, the
standalone runner (``python -m picam_ros``) on the same scene. Every ``--interval`` seconds it
reads each process's RSS, open descriptors and threads from /proc; after ``--warmup`` it fits a
least-squares line to RSS over time and prints the slope in kB/min (and kB/h) per process,
plus the first and last values. Goal (issue 14): < 1 MB/h for each. The nodes get their own
ROS_DOMAIN_ID. ``--centroid-rate`` 0 lets the centroid node take every frame of image_raw.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import subprocess
import sys
import time


def proc_sample(pid: int) -> tuple[int, int, int] | None:
    """RSS in kB, open descriptors and threads of ``pid`` (None when it is gone)."""
    try:
        with open(f'/proc/{pid}/status') as f:
            fields = dict(line.split(':', 1) for line in f if ':' in line)
        fds = len(os.listdir(f'/proc/{pid}/fd'))
    except OSError:
        return None
    return int(fields['VmRSS'].split()[0]), fds, int(fields['Threads'])


def slope_per_minute(times: list[float], values: list[float]) -> float:
    n = len(times)
    if n < 2:
        return 0.0
    mean_t, mean_v = sum(times) / n, sum(values) / n
    var = sum((t - mean_t) ** 2 for t in times)
    if var == 0:
        return 0.0
    return 60.0 * sum((t - mean_t) * (v - mean_v) for t, v in zip(times, values)) / var


def commands(args: argparse.Namespace) -> dict[str, list[str]]:
    size = ['-p', f'width:={args.width}', '-p', f'height:={args.height}', '-p', 'fps:=25.0']
    topic = '/camera/image_raw' if args.centroid_rate == 0 else '/camera/image_throttled'
    found = {
        'runner': [sys.executable, '-m', 'picam_ros', '--source', 'synthetic', '--stream', 'off',
                   '--width', str(args.width), '--height', str(args.height),
                   '--status-interval', '0'],
    }
    if importlib.util.find_spec('rclpy') is not None:
        found['camera node'] = [
            sys.executable, '-m', 'picam_ros.camera_node', '--ros-args', *size,
            '-p', 'stream.enabled:=false', '-p', f'throttle_rate_hz:={args.centroid_rate}']
        found['centroid node'] = [
            sys.executable, '-m', 'picam_ros.centroid_node', '--ros-args',
            '-r', f'image:={topic}']
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--minutes', type=float, default=60.0)
    parser.add_argument('--warmup', type=float, default=120.0, help='seconds not fitted')
    parser.add_argument('--interval', type=float, default=10.0, help='seconds between samples')
    parser.add_argument('--width', type=int, default=1024)
    parser.add_argument('--height', type=int, default=1024)
    parser.add_argument('--centroid-rate', type=float, default=5.0,
                        help='throttled topic rate the centroid node takes (0: image_raw)')
    parser.add_argument('--only', default='', help='comma-separated subset of the processes')
    args = parser.parse_args()

    env = dict(os.environ, ROS_DOMAIN_ID=str(160 + os.getpid() % 60), PYTHONUNBUFFERED='1')
    wanted = commands(args)
    if args.only:
        wanted = {name: argv for name, argv in wanted.items() if name in args.only.split(',')}
    processes = {name: subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
                 for name, argv in wanted.items()}
    samples: dict[str, list[tuple[float, int, int, int]]] = {name: [] for name in processes}
    start = time.monotonic()
    end = start + 60.0 * args.minutes
    try:
        while time.monotonic() < end:
            now = time.monotonic() - start
            for name, process in processes.items():
                sample = proc_sample(process.pid)
                if sample is None or process.poll() is not None:
                    print(f'{name} ended early (status {process.poll()})', file=sys.stderr)
                    return 1
                samples[name].append((now, *sample))
            if int(now) % 300 < args.interval:
                print(f't={now / 60:5.1f} min ' + ', '.join(
                    f'{name} {s[-1][1]} kB' for name, s in samples.items()), flush=True)
            time.sleep(args.interval)
    finally:
        for process in processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
        for process in processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    print(f'soak: {args.minutes:g} min, fitted after {args.warmup:g} s, '
          f'{args.width}x{args.height}@25, centroid node at '
          f'{"every frame" if args.centroid_rate == 0 else f"{args.centroid_rate:g} Hz"}')
    for name, rows in samples.items():
        fitted = [row for row in rows if row[0] >= args.warmup] or rows
        times = [row[0] for row in fitted]
        rss = [row[1] for row in fitted]
        slope = slope_per_minute(times, rss)
        print(f'  {name:14s} RSS {rss[0]:7d} -> {rss[-1]:7d} kB, slope {slope:+7.2f} kB/min '
              f'({slope * 60 / 1024:+.2f} MB/h); fds {fitted[0][2]} -> {fitted[-1][2]}, '
              f'threads {fitted[0][3]} -> {fitted[-1][3]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
