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

"""The ROS image topic while the stream breaks: does ``image_raw`` pause when MediaMTX dies.

    python bench/topic_faults.py [--size 1280x720@30] [--kills 5] [--baseline 10]

The camera node runs as a real process (``--ros-args``, synthetic source, the stream on, a real
MediaMTX started and supervised by the node, on free ports and a private ``ROS_DOMAIN_ID``).
This process subscribes to ``camera/image_raw`` (sensor-data QoS) and records, for every image,
its arrival time and its header stamp (the capture time). First ``--baseline`` seconds with
nothing broken (the peer: the same graph, the same subscriber), then ``--kills`` rounds of
kill -9 of MediaMTX and, as many, of the encoder (ffmpeg), each watched from the kill to
``--after`` seconds later, with the stream back in between. Per phase: images received of those
the stamps say were captured, the largest and p99 gap between arrivals and between stamps, in
frame periods. A stamp gap of one period means no frame was lost; the goal (issue 10) is that
the topic never pauses for more than one frame period: no gap between arrivals reaches two
periods (a missing frame's slot), and the fault rows look like the baseline row. Needs rclpy
(``scripts/setup.sh --ros``) and MediaMTX (``scripts/get-mediamtx.sh``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'test'))
from camera_size import camera_size  # noqa: E402, I100, RUF100 - bench/camera_size.py
from proctree import descendants, wait_until  # noqa: E402, RUF100
from stream_fixtures import find_mediamtx, free_server_ports  # noqa: E402, RUF100

try:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image
except ImportError:
    rclpy = None

from picam_ros.ros.dds_profile import apply_default_profile  # noqa: E402, RUF100

NODE_MAIN = 'import sys; from picam_ros.ros.camera_node import main; sys.exit(main())'


def named_child(root: int, name: str) -> int | None:
    """Return the pid of the descendant of ``root`` whose command name is ``name``."""
    for pid in sorted(descendants(root)):
        try:
            if Path(f'/proc/{pid}/comm').read_text().strip() == name:
                return pid
        except OSError:
            continue
    return None


class Recorder:
    """Arrival time and header stamp of every image, spun on a thread of its own."""

    def __init__(self) -> None:
        self.node = rclpy.create_node('topic_faults_bench')
        self.records: list[tuple[int, int]] = []   # (arrival monotonic ns, stamp ns)
        self._lock = threading.Lock()
        self.node.create_subscription(Image, 'camera/image_raw', self._on_image,
                                      qos_profile_sensor_data)
        self._executor = SingleThreadedExecutor()
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._executor.spin, daemon=True)
        self._thread.start()

    def _on_image(self, msg: Image) -> None:
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        with self._lock:
            self.records.append((time.monotonic_ns(), stamp))

    def since(self, start_ns: int, end_ns: int) -> list[tuple[int, int]]:
        with self._lock:
            return [r for r in self.records if start_ns <= r[0] < end_ns]

    def close(self) -> None:
        self._executor.shutdown(timeout_sec=5)
        self._thread.join(timeout=5)
        self.node.destroy_node()


def summary(records: list[tuple[int, int]], period_ns: float) -> dict[str, float]:
    """Images received vs captured (by stamps), largest and p99 gaps in frame periods."""
    if len(records) < 2:
        return {'received': len(records), 'captured': 0, 'arrival_max': float('nan'),
                'arrival_p99': float('nan'), 'stamp_max': float('nan')}
    arrivals = np.diff([a for a, _ in records]) / period_ns
    stamps = np.sort([s for _, s in records])
    stamp_gaps = np.diff(stamps) / period_ns
    return {'received': len(records),
            'captured': round((stamps[-1] - stamps[0]) / period_ns) + 1,
            'arrival_max': float(arrivals.max()),
            'arrival_p99': float(np.percentile(arrivals, 99)),
            'stamp_max': float(stamp_gaps.max())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--size', type=camera_size, default='1280x720@30',
                        help='WxH@FPS of the synthetic camera')
    parser.add_argument('--kills', type=int, default=5, help='rounds of each fault')
    parser.add_argument('--baseline', type=float, default=10.0, help='seconds without faults')
    parser.add_argument('--after', type=float, default=3.0, help='seconds watched after a kill')
    args = parser.parse_args()
    if rclpy is None:
        print('topic_faults: skipped (needs rclpy: scripts/setup.sh --ros)')
        return 0
    mediamtx = find_mediamtx()
    if mediamtx is None:
        print('topic_faults: needs MediaMTX (scripts/get-mediamtx.sh or $MEDIAMTX)',
              file=sys.stderr)
        return 2
    width, height, fps = args.size
    period_ns = 1e9 / fps
    env = dict(os.environ, ROS_DOMAIN_ID=str(1 + os.getpid() % 231))
    env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    apply_default_profile(env)   # as the launch files do
    for name in ('ROS_DOMAIN_ID', 'ROS_AUTOMATIC_DISCOVERY_RANGE'):
        os.environ[name] = env[name]
    ports = [arg for name, port in free_server_ports().items()
             for arg in ('-p', f'stream.{name}:={port}')]
    argv = [sys.executable, '-c', NODE_MAIN, '--ros-args', '-p', 'source:=synthetic',
            '-p', f'width:={width}', '-p', f'height:={height}', '-p', f'fps:={fps}',
            '-p', 'stream.enabled:=true', '-p', f'stream.mediamtx_path:={mediamtx}', *ports]
    rclpy.init()
    with tempfile.TemporaryDirectory(prefix='topic_faults_') as tmp:
        log = open(Path(tmp) / 'camera.log', 'wb')   # noqa: SIM115 (closed with the child)
        camera = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        recorder = Recorder()
        rows: list[tuple[str, dict[str, float]]] = []
        try:
            streaming = lambda: (named_child(camera.pid, 'mediamtx') is not None  # noqa: E731
                                 and named_child(camera.pid, 'ffmpeg') is not None)
            if not wait_until(lambda: streaming() and len(recorder.records) > fps, 60):
                print('topic_faults: the camera node did not start streaming; its log:\n'
                      + (Path(tmp) / 'camera.log').read_text()[-2000:], file=sys.stderr)
                return 1
            time.sleep(2.0)   # the encoder's RTSP session settles
            start = time.monotonic_ns()
            time.sleep(args.baseline)
            rows.append(('nothing broken (peer)',
                         summary(recorder.since(start, time.monotonic_ns()), period_ns)))
            for child in ('mediamtx', 'ffmpeg'):
                for _ in range(args.kills):
                    pid = named_child(camera.pid, child)
                    if pid is None or not wait_until(streaming, 30):
                        print(f'topic_faults: no {child} to kill', file=sys.stderr)
                        return 1
                    time.sleep(1.0)
                    start = time.monotonic_ns()
                    os.kill(pid, signal.SIGKILL)
                    time.sleep(args.after)
                    rows.append((f'kill -9 {child}',
                                 summary(recorder.since(start, time.monotonic_ns()), period_ns)))
                    wait_until(lambda pid=pid, child=child: streaming() and named_child(
                        camera.pid, child) != pid, 30)
        finally:
            recorder.close()
            camera.send_signal(signal.SIGINT)
            try:
                camera.wait(timeout=15)
            except subprocess.TimeoutExpired:
                camera.kill()
                camera.wait(timeout=10)
            rclpy.try_shutdown()
    print(f'camera node {width}x{height}@{fps:g}, stream on, real MediaMTX ({mediamtx}); '
          f'load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cpus')
    print('gaps in frame periods (1.0 = none lost or late); received / captured by the stamps')
    print(f'  {"phase":<24} {"received":>14} {"arrival max":>12} {"arrival p99":>12} '
          f'{"stamp max":>10}')
    for name, row in rows:
        print(f'  {name:<24} {row["received"]:>6} / {row["captured"]:<6} '
              f'{row["arrival_max"]:>12.2f} {row["arrival_p99"]:>12.2f} {row["stamp_max"]:>10.2f}')
    base = rows[0][1]
    for child in ('mediamtx', 'ffmpeg'):
        faults = [row for name, row in rows if name == f'kill -9 {child}']
        if faults:
            worst = max(r['arrival_max'] for r in faults)
            lost = sum(r['captured'] - r['received'] for r in faults)
            print(f'kill -9 {child}: largest arrival gap {worst:.2f} periods '
                  f'({worst / base["arrival_max"]:.2f}x the unbroken run\'s largest), '
                  f'largest stamp gap {max(r["stamp_max"] for r in faults):.2f} periods, '
                  f'{lost} images missing over {len(faults)} kills')
    return 0


if __name__ == '__main__':
    sys.exit(main())
