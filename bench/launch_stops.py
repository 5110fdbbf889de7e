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

"""Ctrl-C a running launch file many times and count what went wrong.

    python bench/launch_stops.py --runs 50 two_cameras.launch.py source:=synthetic stream:=false

Needs a sourced ROS 2 workspace with picam_ros built (``ros2 launch`` must find it). Each run
starts ``ros2 launch`` in its own process group (as a terminal does), waits until every node
logged that it is up and a random extra 0-1.5 s of frames, then sends SIGINT to the whole group,
as Ctrl-C does (launch then forwards its own SIGINT to each node: the double signal). It counts,
per run: launch's escalations to SIGTERM/SIGKILL, Python tracebacks, nodes that did not end
cleanly, publish-after-shutdown errors, and the time from SIGINT to launch's exit, and to the
exit of its slowest node (a node's own stop, without launch's: launch reaps its children and
then ends its own interpreter, rclpy context included).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import time

PATTERNS = {
    'escalations': r"failed to terminate .* escalating to 'SIG",
    'tracebacks': r'Traceback \(most recent call last\)',
    'keyboard interrupts': r'KeyboardInterrupt',
    'unclean exits': r'process has died .*exit code (?!0\b)',
    'dead-context publishes': r'context is invalid',
    'sink failures': r"frame sink '.*' failed",
    'watchdog exits': r'teardown still busy',
}


def node_count(launch_output: str) -> int:
    return len(re.findall(r'process started with pid', launch_output))


def node_pids(launch_output: str) -> list[int]:
    return [int(pid) for pid in re.findall(r'process started with pid \[(\d+)\]', launch_output)]


def ended(pid: int) -> bool:
    """Tell whether a process has exited (a zombie its parent has not reaped yet counts)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] in ('Z', 'X')
    except OSError:
        return True


def wait_for_stop(launch: subprocess.Popen, pids: list[int], sent: float,
                  guard: float) -> tuple[float | None, float | None]:
    """Poll until launch exits; seconds from ``sent`` to its exit and to the last node's."""
    nodes_done = None
    while time.monotonic() - sent < guard:
        if nodes_done is None and all(ended(pid) for pid in pids):
            nodes_done = time.monotonic() - sent
        if launch.poll() is not None:
            return time.monotonic() - sent, nodes_done
        time.sleep(0.005)
    return None, nodes_done


def one_run(argv: list[str], domain: int, settle: float, guard: float) -> dict:
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain), PYTHONUNBUFFERED='1')
    # Read while launch writes it, so not a with-block.
    log = open(f'/tmp/launch_stops_{os.getpid()}.log', 'w+b')  # noqa: SIM115
    launch = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                              start_new_session=True)
    try:
        return _stop_and_count(launch, log, settle, guard)
    finally:
        if launch.poll() is None:   # this bench was interrupted: launch and its nodes go too
            os.killpg(launch.pid, signal.SIGINT)
            try:
                launch.wait(10.0)
            except subprocess.TimeoutExpired:
                os.killpg(launch.pid, signal.SIGKILL)
                launch.wait()
        log.close()


def _stop_and_count(launch: subprocess.Popen, log, settle: float, guard: float) -> dict:
    started = time.monotonic()
    up = False
    while time.monotonic() - started < guard:
        log.seek(0)
        text = log.read().decode(errors='replace')
        nodes = node_count(text)
        ready = len(re.findall(r'\]: (?:synthetic|rpicam|ffmpeg) camera \d+x\d+|keying profiles'
                               r'|\]: machine: board \+ component \d+x\d+'
                               r'|\]: operator page ready', text))
        if nodes and ready >= nodes:
            up = True
            break
        if launch.poll() is not None:
            break
        time.sleep(0.05)
    time.sleep(settle)
    log.seek(0)
    pids = node_pids(log.read().decode(errors='replace'))
    sent = time.monotonic()
    try:
        os.killpg(launch.pid, signal.SIGINT)
    except ProcessLookupError:
        pass
    took, nodes_took = wait_for_stop(launch, pids, sent, guard)
    if took is None:
        os.killpg(launch.pid, signal.SIGKILL)
        launch.wait()
        took = time.monotonic() - sent
    log.seek(0)
    text = log.read().decode(errors='replace')
    result = {name: len(re.findall(pattern, text)) for name, pattern in PATTERNS.items()}
    result.update(up=up, seconds=took, nodes_seconds=nodes_took or took, nodes=node_count(text),
                  text=text)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('launch_file')
    parser.add_argument('arguments', nargs='*', help='launch arguments name:=value')
    parser.add_argument('--runs', type=int, default=50)
    parser.add_argument('--package', default='picam_ros')
    parser.add_argument('--guard', type=float, default=60.0, help='failure guard per run, s')
    parser.add_argument('--keep', default='', help='directory for the logs of bad runs')
    args = parser.parse_args()
    # A script started in the background inherits SIGINT ignored, and so would launch: then
    # Ctrl-C reaches the nodes only, launch respawns them and never stops. Python's own
    # handler, not SIG_DFL: a Ctrl-C of this bench must reach the cleanup that stops launch.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    argv = ['ros2', 'launch', args.package, args.launch_file, *args.arguments]
    totals = dict.fromkeys(PATTERNS, 0)
    times, node_times, bad = [], [], 0
    rng = random.Random(1)
    for run in range(args.runs):
        result = one_run(argv, 100 + (os.getpid() + run) % 100, rng.uniform(0.0, 1.5),
                         args.guard)
        for name in PATTERNS:
            totals[name] += result[name]
        times.append(result['seconds'])
        node_times.append(result['nodes_seconds'])
        flawed = (not result['up'] or result['seconds'] >= args.guard
                  or any(result[name] for name in PATTERNS))
        bad += flawed
        flaws = ''.join(f', {name} {result[name]}' for name in PATTERNS if result[name])
        print(f'run {run + 1:3d}: {result["nodes"]} nodes, up={result["up"]}, stop '
              f'{result["seconds"]:.2f} s (nodes {result["nodes_seconds"]:.2f} s){flaws}',
              flush=True)
        if flawed and args.keep:
            os.makedirs(args.keep, exist_ok=True)
            with open(os.path.join(args.keep, f'run{run + 1}.log'), 'w') as f:
                f.write(result['text'])
    times.sort()
    node_times.sort()
    print(f'{args.runs} Ctrl-C stops of {args.launch_file}: '
          + ', '.join(f'{name} {count}' for name, count in totals.items())
          + f'; runs with any flaw {bad}; SIGINT -> launch exit median '
            f'{times[len(times) // 2]:.2f} s, max {times[-1]:.2f} s; -> last node exit median '
            f'{node_times[len(node_times) // 2]:.2f} s, max {node_times[-1]:.2f} s; load '
            f'average {os.getloadavg()[0]:.1f}')
    return 1 if bad else 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print('launch_stops: interrupted; the launch under test was stopped', file=sys.stderr)
        sys.exit(130)
