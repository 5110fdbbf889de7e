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

"""Benchmark: how fast ``/machine/align`` answers on the shipped configuration.

Starts ``machine_node`` as a real process with ``config/machine.yaml`` (synthetic 1024x1024
scenes, still, settling on the measured still-frame noise; the composite stream off unless
``--stream``), waits for the service, then calls it ``--calls`` times, ``--pause`` s apart, and
prints each answer's latency (call to response), verdict and settling figures, then p50 / max.
The scenes are still, so the latency is the settle rule's: the frames it needs (the first frame
after the call, one more to compare) plus measuring and aligning.

    python bench/align_service.py [--calls 10] [--pause 0.5] [-p fresh.settle_threshold:=2.0]

Needs rclpy and the message packages (``scripts/setup.sh --ros`` or a sourced ROS 2).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

import rclpy
from std_srvs.srv import Trigger

ROOT = Path(__file__).resolve().parents[1]
GUARD_S = 30.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--calls', type=int, default=10)
    parser.add_argument('--pause', type=float, default=0.5)
    parser.add_argument('--stream', action='store_true', help='keep the composite stream on')
    parser.add_argument('-p', '--param', action='append', default=[],
                        help='NAME:=VALUE over the shipped configuration (repeatable)')
    args = parser.parse_args()
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(ROOT),
                                                        os.environ.get('PYTHONPATH', '')])}
    command = [sys.executable, '-m', 'picam_ros.ros.machine_node', '--ros-args', '--params-file',
               str(ROOT / 'config' / 'machine.yaml')]
    if not args.stream:
        command += ['-p', 'stream.enabled:=false']
    for param in args.param:
        command += ['-p', param]
    node_process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
    rclpy.init()
    node = rclpy.create_node('align_service_bench')
    client = node.create_client(Trigger, '/machine/align')
    latencies = []
    try:
        if not client.wait_for_service(timeout_sec=GUARD_S):
            print('the service never appeared')
            return 1
        time.sleep(2.0)        # the still-frame noise needs a few frames of each camera
        for _ in range(args.calls):
            start = time.monotonic()
            future = client.call_async(Trigger.Request())
            rclpy.spin_until_future_complete(node, future, timeout_sec=GUARD_S)
            elapsed = time.monotonic() - start
            answer = future.result()
            if answer is None:
                print('no answer')
                return 1
            try:
                result = json.loads(answer.message)
            except ValueError:
                print(f'{1000 * elapsed:7.0f} ms  success {answer.success}: {answer.message}')
                continue
            latencies.append(elapsed)
            board = result['frames']['board']
            print(f'{1000 * elapsed:7.0f} ms  success {answer.success}  {result["verdict"]}  '
                  f'{result["matched"]}/{result["expected"]} leads  board: '
                  f'{board["frames_waited"]} frames, difference '
                  f'{board["settle_difference"]:.2f} <= {board["settle_limit"]:.2f}')
            time.sleep(args.pause)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        node_process.send_signal(signal.SIGINT)
        try:
            node_process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            node_process.kill()
    if latencies:
        ordered = sorted(latencies)
        print(f'{len(latencies)} answers: p50 {1000 * ordered[len(ordered) // 2]:.0f} ms, '
              f'max {1000 * ordered[-1]:.0f} ms')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
