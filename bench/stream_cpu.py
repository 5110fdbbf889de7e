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

"""What the operator's stream costs: the whole graph's CPU per process, stream full, half or off.

    python bench/stream_cpu.py [--size 1920] [--fps 25] [--seconds 10] [--scales 1 2 4 0]

A Pi 5 encodes H.264 on its CPU cores (it has no hardware encoder): at 1920x1920 x264 costs more
than the vision. ``stream.scale`` divides the stream's width and height (a box filter on the
4:2:0 planes); the topics and centroids keep the full frame. Each row is a real graph on a
private ``ROS_DOMAIN_ID``: the camera node (synthetic source at the size and rate, MediaMTX and
the ffmpeg encoder as its children) and the centroids, either as the centroid node on the
camera's throttled topic (``node``) or inside the camera process (``inprocess``); this process
subscribes to ``/centroids`` only (no image leaves the camera for a viewer). CPU is each
process's utime+stime from /proc over the window, in % of one core; scale 0 means no stream.
The closing lines divide the whole graph's CPU at each scale by its CPU with the full-size
stream in the same run (issue 22's goal: half size <= 0.40).

Needs rclpy and the message packages (``scripts/setup.sh --ros``) and MediaMTX
(``scripts/get-mediamtx.sh``; found as the runner finds it); prints "skipped" without them.
"""

import argparse
import os
from pathlib import Path
import sys
import tempfile
import time

from ros_graph import cpu_seconds, Graph, NODE_MAIN, rclpy

from picam_ros.ros.dds_profile import apply_default_profile
from picam_ros.stream.mediamtx import find_mediamtx

if rclpy is not None:
    from sensor_msgs.msg import PointCloud2


def children(pid: int) -> dict[str, int]:
    """Return the direct children of ``pid`` by command name (ffmpeg, mediamtx)."""
    found = {}
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / 'stat').read_text()
        except OSError:
            continue
        name, rest = stat[stat.index('(') + 1:stat.rindex(')')], stat[stat.rindex(')') + 2:]
        if int(rest.split()[1]) == pid:
            found[name] = int(entry.name)
    return found


def measure(size: int, fps: float, seconds: float, scale: int, centroids: str,
            mediamtx: str, rate: float) -> dict[str, float]:
    """Run one graph; return CPU % per process and the centroid rate this process received."""
    env = dict(os.environ, ROS_DOMAIN_ID=str(1 + os.getpid() % 231))
    env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    apply_default_profile(env)
    for name in ('ROS_DOMAIN_ID', 'ROS_AUTOMATIC_DISCOVERY_RANGE'):
        os.environ[name] = env[name]
    stream = (['-p', 'stream.enabled:=true', '-p', f'stream.scale:={scale}',
               '-p', f'stream.mediamtx_path:={mediamtx}'] if scale
              else ['-p', 'stream.enabled:=false'])
    inprocess = (['-p', 'centroids.enabled:=true', '-p', f'centroids.rate_hz:={rate}']
                 if centroids == 'inprocess' else [])
    with tempfile.TemporaryDirectory(prefix='stream_cpu_') as tmp:
        graph = Graph(env, Path(tmp))
        graph.start('camera', [
            sys.executable, '-c', NODE_MAIN.format(module='camera_node'), '--ros-args',
            '-p', 'source:=synthetic', '-p', f'width:={size}', '-p', f'height:={size}',
            '-p', f'fps:={fps}', '-p', f'throttle_rate_hz:={rate}', *stream, *inprocess])
        if centroids == 'node':
            graph.start('centroids', [
                sys.executable, '-c', NODE_MAIN.format(module='centroid_node'), '--ros-args',
                '-r', 'image:=/camera/image_throttled'])
        try:
            return window(graph, seconds, expect_children=2 if scale else 0)
        finally:
            graph.stop()


def window(graph: Graph, seconds: float, expect_children: int) -> dict[str, float]:
    rclpy.init()
    node = rclpy.create_node('stream_cpu_bench')
    clouds = [0]
    node.create_subscription(PointCloud2, '/centroids', lambda _m: clouds.__setitem__(
        0, clouds[0] + 1), 10, raw=True)
    try:
        camera = graph.processes['camera'].pid
        deadline = time.monotonic() + 30.0
        while clouds[0] == 0 or len(children(camera)) < expect_children:
            if time.monotonic() > deadline:
                logs = {name: (graph.log_dir / f'{name}.log').read_text()[-600:]
                        for name in graph.processes}
                raise RuntimeError(f'the graph did not come up within 30 s: {logs}')
            rclpy.spin_once(node, timeout_sec=0.1)
        settle = time.monotonic() + 3.0   # the encoder's first key frames, the server's session
        while time.monotonic() < settle:
            rclpy.spin_once(node, timeout_sec=0.1)
        pids = {name: p.pid for name, p in graph.processes.items()}
        pids.update(children(camera))
        cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
        clouds0, start = clouds[0], time.monotonic()
        while time.monotonic() - start < seconds:
            rclpy.spin_once(node, timeout_sec=0.1)
        elapsed = time.monotonic() - start
        if children(camera) != {k: v for k, v in pids.items() if k not in graph.processes}:
            raise RuntimeError('a child of the camera was restarted during the window')
        row = {name: 100.0 * (cpu_seconds(pid) - cpu0[name]) / elapsed
               for name, pid in pids.items()}
        row['centroid_hz'] = (clouds[0] - clouds0) / elapsed
        return row
    finally:
        node.destroy_node()
        rclpy.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, default=1920, help='capture width and height')
    parser.add_argument('--fps', type=float, default=25.0)
    parser.add_argument('--rate', type=float, default=5.0, help='centroid rate, Hz')
    parser.add_argument('--seconds', type=float, default=10.0, help='measured window per row')
    parser.add_argument('--scales', type=int, nargs='+', default=[1, 2, 4, 0],
                        choices=(0, 1, 2, 4), help='stream.scale per row; 0: no stream')
    parser.add_argument('--centroids', nargs='+', default=['node', 'inprocess'],
                        choices=('node', 'inprocess'))
    args = parser.parse_args()
    if rclpy is None:
        print('skipped: rclpy is not installed (scripts/setup.sh --ros, or source a ROS 2)')
        return 0
    mediamtx = find_mediamtx(os.environ.get('MEDIAMTX'))[0]
    if mediamtx is None:
        print('skipped: no MediaMTX (scripts/get-mediamtx.sh, or set MEDIAMTX)')
        return 0
    print(f'{args.size}x{args.size}@{args.fps:g}, centroids at {args.rate:g} Hz, '
          f'{args.seconds:g} s per row, CPU in % of one core, {os.cpu_count()} cores')
    print(f'{"centroids":>10} {"stream":>9} {"camera":>7} {"ffmpeg":>7} {"mediamtx":>8} '
          f'{"centroid":>8} {"total":>7} {"clouds Hz":>9}')
    totals: dict[tuple[str, int], float] = {}
    for centroids in args.centroids:
        for scale in args.scales:
            row = measure(args.size, args.fps, args.seconds, scale, centroids, mediamtx,
                          args.rate)
            total = sum(v for k, v in row.items() if k != 'centroid_hz')
            totals[centroids, scale] = total
            shown = f'1/{scale}' if scale > 1 else ('full' if scale else 'off')
            print(f'{centroids:>10} {shown:>9} {row["camera"]:6.0f}% '
                  f'{row.get("ffmpeg", 0.0):6.0f}% {row.get("mediamtx", 0.0):7.0f}% '
                  f'{row.get("centroids", 0.0):7.0f}% {total:6.0f}% {row["centroid_hz"]:9.1f}',
                  flush=True)
    for (centroids, scale), total in totals.items():
        full = totals.get((centroids, 1))
        if scale != 1 and full:
            shown = f'1/{scale}' if scale else 'off'
            print(f'{centroids}: whole graph with the stream {shown} / full-size stream: '
                  f'{total / full:.2f}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
