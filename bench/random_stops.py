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

"""Ctrl-C the standalone runner at random moments of its first 2 s and count what went wrong.

    python bench/random_stops.py --runs 200

Issue 23's goal: a SIGINT at any moment is never lost, never a traceback or a misleading error,
and every stop ends in under 1 s. Per source kind (synthetic with the live stream through
MediaMTX, ffmpeg from a test clip, rpicam with the fake ``rpicam-vid`` of the tests), ``--runs``
runs of ``python -m picam_ros`` each get SIGINT at a moment drawn uniformly from
``[0, --window]`` s after their start (``test/stop_harness.py``: the signal goes to the process
group as a terminal's does, and whatever the runner leaves running is found and killed). A run
is clean when it exits with status 0, prints nothing on stderr but at most one final status
line (and the stream's URL), and leaves no process behind; ``lost`` counts runs still going 20 s
after the signal. The stop time is from the signal to the runner's exit, over all runs and over
those stopped once running (a status line was printed). ``--jobs`` runs that many at once (the
load it adds is part of what is measured: say it with the numbers).
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
import os
from pathlib import Path
import random
import statistics
import subprocess
import sys
import tempfile

# The stop harness, the fake rpicam-vid and the MediaMTX helpers live with the tests. flake8
# wants E402 waived below; ruff already accepts imports after a sys.path change (hence RUF100).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'test'))
import fake_rpicam_vid  # noqa: E402, RUF100
import stop_harness  # noqa: E402, RUF100
from stream_fixtures import find_mediamtx, runner_stream_flags  # noqa: E402, RUF100

KINDS = ('synthetic', 'ffmpeg', 'rpicam')
RUNNER = [sys.executable, '-m', 'picam_ros', '--width', '640', '--height', '480',
          '--status-interval', '60']
QUIET = ('fps=', '[info] live stream: ')


class _Environ:
    """What ``fake_rpicam_vid.install_on_path`` needs of pytest's monkeypatch."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def setenv(self, name: str, value: str) -> None:
        self.env[name] = value


def source_flags(kind: str, clip: Path, mediamtx: str) -> list[str]:
    if kind == 'synthetic':
        return runner_stream_flags(mediamtx)
    if kind == 'ffmpeg':
        return ['--source', 'ffmpeg', '--input', str(clip), '--stream', 'off']
    return ['--source', 'rpicam', '--stream', 'off']


def flaws(run: dict) -> list[str]:
    """List what is wrong with one run's ending (empty: clean)."""
    found = []
    lines = run['stderr'].splitlines()
    if run['status'] is None:
        found.append('lost: still running after the guard')
    elif run['status'] != 0:
        found.append(f'status {run["status"]}')
    found += [f'stderr: {line}' for line in lines if not line.startswith(QUIET)]
    if sum(line.startswith('fps=') for line in lines) > 1:
        found.append('more than one status line')
    found += [f'left running: {command}' for command in run['left']]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--runs', type=int, default=200, help='runs per source kind')
    parser.add_argument('--window', type=float, default=2.0, help='latest SIGINT, s after start')
    parser.add_argument('--jobs', type=int, default=3, help='runs at once')
    parser.add_argument('--kinds', default=','.join(KINDS), help='source kinds, comma-separated')
    parser.add_argument('--seed', type=int, default=23)
    args = parser.parse_args()
    mediamtx = find_mediamtx()
    kinds = args.kinds.split(',')
    if 'synthetic' in kinds and mediamtx is None:
        parser.error('MediaMTX not found: run scripts/get-mediamtx.sh')
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix='random-stops-') as tmp:
        fake_rpicam_vid.install_on_path(Path(tmp), _Environ(env))
        clip = Path(tmp) / 'board.mp4'
        subprocess.run(['ffmpeg', '-loglevel', 'error', '-f', 'lavfi', '-i',
                        'testsrc2=size=640x480:rate=25', '-t', '2', '-pix_fmt', 'yuv420p',
                        str(clip)], check=True)
        rng = random.Random(args.seed)
        jobs = [(kind, round(rng.uniform(0.0, args.window), 3))
                for kind in kinds for _ in range(args.runs)]
        rng.shuffle(jobs)

        def one(job: tuple[str, float]) -> dict:
            kind, delay = job
            command = [*RUNNER, *source_flags(kind, clip, mediamtx or '')]
            return {'kind': kind, **stop_harness.stop_after(delay, command, env)}

        with ThreadPoolExecutor(args.jobs) as pool:
            runs = list(pool.map(one, jobs))
    bad_runs = 0
    for kind in kinds:
        mine = [run for run in runs if run['kind'] == kind]
        bad = [run for run in mine if flaws(run)]
        bad_runs += len(bad)
        stops = sorted(run['stop_s'] for run in mine if run['stop_s'] is not None)
        running = sorted(run['stop_s'] for run in mine
                         if run['stop_s'] is not None and 'fps=' in run['stderr'])
        print(f'{kind}: {len(mine) - len(bad)} of {len(mine)} clean; lost '
              f'{sum(run["status"] is None for run in mine)}; stop median '
              f'{statistics.median(stops):.2f} s, max {stops[-1]:.2f} s; once running '
              f'(n={len(running)}): median {statistics.median(running or [0]):.2f} s, max '
              f'{max(running or [0]):.2f} s')
        for run in bad[:5]:
            print(f'  SIGINT at {run["delay"]:.3f} s: {"; ".join(flaws(run))[:300]}')
    print(f'load average {os.getloadavg()[0]:.1f} at the end, {args.jobs} runs at once')
    return 1 if bad_runs else 0


if __name__ == '__main__':
    sys.exit(main())
