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

"""Frames and centroids on a real ROS 2 graph: delivered rates and CPU per process.

    python bench/ros_graph.py [--sizes 1024 1920] [--fps 25] [--seconds 8] [--modes ...]

Needs rclpy and the message packages (``scripts/setup.sh --ros`` or a sourced ROS 2); prints
"skipped" and exits 0 without them. Every node is a real process started with ``--ros-args``
on a private ``ROS_DOMAIN_ID``, with the environment the package's launch files give it (the
shipped FastDDS profile, unless one is set). This process is the plain subscriber, with stock
DDS settings (no profile, like ``ros2 topic hz`` in an ordinary shell): it counts
``image_raw`` (sensor-data QoS, as ``ros2 topic hz`` would) and ``/centroids``. CPU is each
process's utime+stime from /proc over the measured window, in % of one core.

Modes:

- ``every``: the centroid node subscribes to ``camera/image_raw`` (every frame);
- ``throttled``: it subscribes to ``camera/image_throttled`` (the camera's 5 Hz topic, the
  launch files' default);
- ``naive``: the peer: a naive rclpy publisher (``msg.data = frame.data.tobytes()``) sends the
  same synthetic frames, the centroid node takes every frame of it;
- ``inprocess``: the centroid pipeline inside the camera process (``centroids.enabled``) at
  ``--rate``, no centroid node; the plain subscriber still takes ``image_raw``;
- ``camera``: the camera node alone publishing ``image_raw`` to the plain subscriber;
- ``inprocess-only``: in-process centroids at every frame (``centroids.rate_hz`` = fps) with
  ``image_raw`` unsubscribed, so no frame is serialised at all.

The last two are the in-process goal (issue 8): centroids at the camera's rate must cost the
camera process less CPU than publishing ``image_raw`` to one subscriber; the goal line after
the table compares them.
"""

import argparse
from dataclasses import dataclass, field
import os
from pathlib import Path
import signal
import subprocess
import sys
import tempfile
import time

try:
    import rclpy
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image, PointCloud2
except ImportError:
    rclpy = None

from picam_ros.ros.dds_profile import apply_default_profile

CLOCK_TICKS = os.sysconf('SC_CLK_TCK')
NODE_MAIN = 'import sys; from picam_ros.ros.{module} import main; sys.exit(main())'
NAIVE_PUBLISHER = """
import sys
import rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from picam_ros.sources.synthetic import SyntheticConfig, SyntheticSource

width, height, fps = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
rclpy.init()
node = rclpy.create_node('naive_camera')
publisher = node.create_publisher(Image, '/naive/image_raw', qos_profile_sensor_data)
source = SyntheticSource(SyntheticConfig(width=width, height=height, paced=False))
sequence = 0


def tick():
    global sequence
    frame = source.render(sequence)
    sequence += 1
    msg = Image()
    msg.header.stamp = node.get_clock().now().to_msg()
    msg.header.frame_id = 'camera_optical_frame'
    msg.width, msg.height, msg.step, msg.encoding = width, height, width, 'i420'
    msg.data = frame.data.tobytes()
    publisher.publish(msg)


node.create_timer(1.0 / fps, tick)
try:
    rclpy.spin(node)
except KeyboardInterrupt:
    pass
"""


@dataclass(frozen=True)
class Mode:
    """One graph to measure."""

    name: str
    image_topic: str | None            # what the plain subscriber counts (None: no images)
    centroid_topic: str | None         # the centroid node's input (None: no centroid node)
    camera: str = 'camera_node'        # 'camera_node' or 'naive'
    camera_args: tuple[str, ...] = ()
    available: str = ''                # non-empty: why the mode cannot run yet
    inprocess: str = ''                # centroids in the camera process: 'rate' (--rate), 'fps'

    @property
    def centroids(self) -> bool:
        return bool(self.centroid_topic or self.inprocess)


MODES = {
    'every': Mode('every', '/camera/image_raw', '/camera/image_raw'),
    'throttled': Mode('throttled', '/camera/image_raw', '/camera/image_throttled'),
    'naive': Mode('naive', '/naive/image_raw', '/naive/image_raw', camera='naive'),
    'inprocess': Mode('inprocess', '/camera/image_raw', None, inprocess='rate'),
    'camera': Mode('camera', '/camera/image_raw', None),
    'inprocess-only': Mode('inprocess-only', None, None, inprocess='fps'),
}


def cpu_seconds(pid: int) -> float:
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS   # utime, stime


@dataclass
class Graph:
    """The processes of one measurement and the counting subscriber."""

    env: dict[str, str]
    log_dir: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self, name: str, argv: list[str]) -> None:
        log = open(self.log_dir / f'{name}.log', 'wb')   # noqa: SIM115 (closed with the child)
        self.processes[name] = subprocess.Popen(argv, env=self.env, stdout=log,
                                                stderr=subprocess.STDOUT, cwd=self.log_dir)
        log.close()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def inprocess_args(mode: Mode, fps: float, rate: float) -> list[str]:
    if not mode.inprocess:
        return []
    rate_hz = fps if mode.inprocess == 'fps' else rate
    return ['-p', 'centroids.enabled:=true', '-p', f'centroids.rate_hz:={float(rate_hz)}']


def measure(mode: Mode, size: int, fps: float, seconds: float, rate: float) -> dict:
    env = dict(os.environ)
    env['ROS_DOMAIN_ID'] = str(1 + os.getpid() % 231)
    env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    apply_default_profile(env)          # what the package's launch files do
    # This process (the subscriber) joins the same graph with stock DDS settings, as a
    # `ros2 topic hz` in an ordinary shell would: no profile of its own.
    for name in ('ROS_DOMAIN_ID', 'ROS_AUTOMATIC_DISCOVERY_RANGE'):
        os.environ[name] = env[name]
    with tempfile.TemporaryDirectory(prefix='ros_graph_') as tmp:
        graph = Graph(env, Path(tmp))
        if mode.camera == 'naive':
            graph.start('camera', [sys.executable, '-c', NAIVE_PUBLISHER, str(size), str(size),
                                   str(fps)])
        else:
            graph.start('camera', [
                sys.executable, '-c', NODE_MAIN.format(module='camera_node'), '--ros-args',
                '-p', 'source:=synthetic', '-p', f'width:={size}', '-p', f'height:={size}',
                '-p', f'fps:={fps}', '-p', 'stream.enabled:=false',
                '-p', f'throttle_rate_hz:={rate}', *mode.camera_args,
                *inprocess_args(mode, fps, rate)])
        if mode.centroid_topic:
            graph.start('centroids', [
                sys.executable, '-c', NODE_MAIN.format(module='centroid_node'), '--ros-args',
                '-r', f'image:={mode.centroid_topic}'])
        try:
            return count(graph, mode, seconds)
        finally:
            graph.stop()


def count(graph: Graph, mode: Mode, seconds: float) -> dict:
    rclpy.init()
    node = rclpy.create_node('ros_graph_bench')
    counts = {'images': 0, 'clouds': 0}

    def on_image(_msg):
        counts['images'] += 1

    def on_cloud(_msg):
        counts['clouds'] += 1

    if mode.image_topic:
        node.create_subscription(Image, mode.image_topic, on_image, qos_profile_sensor_data,
                                 raw=True)
    node.create_subscription(PointCloud2, '/centroids', on_cloud, 10, raw=True)
    try:
        deadline = time.monotonic() + 30.0        # start-up guard
        while ((mode.image_topic and counts['images'] == 0)
               or (mode.centroids and counts['clouds'] == 0)):
            if time.monotonic() > deadline:
                logs = {name: (graph.log_dir / f'{name}.log').read_text()[-800:]
                        for name in graph.processes}
                raise RuntimeError(f'{mode.name}: no messages within 30 s: {logs}')
            rclpy.spin_once(node, timeout_sec=0.1)
        warm_up = time.monotonic() + 2.0
        while time.monotonic() < warm_up:
            rclpy.spin_once(node, timeout_sec=0.1)
        pids = {name: p.pid for name, p in graph.processes.items()}
        pids['subscriber'] = os.getpid()
        cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
        images0, clouds0, start = counts['images'], counts['clouds'], time.monotonic()
        while time.monotonic() - start < seconds:
            rclpy.spin_once(node, timeout_sec=0.1)
        elapsed = time.monotonic() - start
        cpu = {name: 100.0 * (cpu_seconds(pid) - cpu0[name]) / elapsed
               for name, pid in pids.items()}
        return {'image_hz': (counts['images'] - images0) / elapsed,
                'centroid_hz': (counts['clouds'] - clouds0) / elapsed, 'cpu': cpu}
    finally:
        node.destroy_node()
        rclpy.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[1024, 1920])
    parser.add_argument('--fps', type=float, default=25.0)
    parser.add_argument('--rate', type=float, default=5.0, help='throttle_rate_hz')
    parser.add_argument('--seconds', type=float, default=8.0, help='measured window per row')
    parser.add_argument('--modes', nargs='+', default=list(MODES), choices=list(MODES))
    args = parser.parse_args()
    if rclpy is None:
        print('skipped: rclpy is not installed (scripts/setup.sh --ros, or source a ROS 2)')
        return 0
    profile = apply_default_profile(dict(os.environ)) or 'as set by the user'
    print(f'RMW {os.environ.get("RMW_IMPLEMENTATION") or "default (rmw_fastrtps_cpp)"}, '
          f'FastDDS profile {profile}, '
          f'{args.fps:g} fps, {args.seconds:g} s per row, CPU in % of one core')
    print(f'{"size":>9} {"mode":>14} {"image_raw Hz":>12} {"centroids Hz":>12} '
          f'{"camera CPU":>10} {"centroid CPU":>12} {"subscriber CPU":>14}')
    rows = {}
    for size in args.sizes:
        for name in args.modes:
            mode = MODES[name]
            if mode.available:
                print(f'{size}x{size:<4} {name:>14}  not available: {mode.available}')
                continue
            rows[size, name] = row = measure(mode, size, args.fps, args.seconds, args.rate)
            cpu = row['cpu']
            print(f'{size}x{size:<4} {name:>14} {row["image_hz"]:12.1f} '
                  f'{row["centroid_hz"]:12.1f} {cpu["camera"]:9.0f}% '
                  f'{cpu.get("centroids", float("nan")):11.0f}% {cpu["subscriber"]:13.0f}%',
                  flush=True)
    for size in args.sizes:
        if (size, 'inprocess-only') in rows and (size, 'camera') in rows:
            print(goal_line(size, args.fps, rows[size, 'inprocess-only'], rows[size, 'camera']))
    return 0


def goal_line(size: int, fps: float, inprocess: dict, camera: dict) -> str:
    """Issue 8's in-process goal: centroids at the camera's rate vs image_raw to one reader."""
    ours, peer = inprocess['cpu']['camera'], camera['cpu']['camera']
    verdict = 'met' if ours < peer else 'NOT met'
    return (f'goal {size}x{size}@{fps:g}: camera with in-process centroids at '
            f'{inprocess["centroid_hz"]:.1f} Hz (image_raw unsubscribed) {ours:.1f}% CPU vs '
            f'camera publishing image_raw to one subscriber ({camera["image_hz"]:.1f} Hz) '
            f'{peer:.1f}%: ratio {ours / peer if peer else float("nan"):.2f} (goal < 1: '
            f'{verdict})')


if __name__ == '__main__':
    raise SystemExit(main())
