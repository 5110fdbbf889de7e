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

"""Frames lost to a live control change, with the fake rpicam-vid (test/fake_rpicam_vid.py).

Run: ``python bench/control_change.py`` (options: ``--size 1024 --fps 25 --changes 10``).

Each change restarts rpicam-vid with new arguments (``RpicamSource.set_controls``). The gap is
the time between the last frame of the old process and the first frame of the new one
(``last_control_gap``); the frames lost are those the camera would have delivered meanwhile.
The peer is the supervisor's ordinary restart path (kill the child, restart after the backoff,
which doubles while runs are short) measured the same way. Goal: a gap of at most 1 s. On a
Pi, rpicam-vid's own start-up (camera open, ISP configuration) adds to what the fake shows.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
import statistics
import sys
import tempfile
import time

from picam_ros.sources import RpicamConfig, RpicamSource
from picam_ros.sources.rpicam_controls import RpicamControls

FAKE = Path(__file__).resolve().parents[1] / 'test' / 'fake_rpicam_vid.py'
GOAL_S = 1.0


def install_fake(directory: str) -> None:
    wrapper = Path(directory) / 'rpicam-vid'
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
    wrapper.chmod(0o755)
    os.environ['PATH'] = f'{directory}{os.pathsep}{os.environ["PATH"]}'


def gaps_of_control_changes(config: RpicamConfig, changes: int) -> list[float]:
    gaps = []
    with RpicamSource(config) as source:
        source.read(10.0)
        for number in range(1, changes + 1):
            source.set_controls(RpicamControls(shutter=1000 * number))
            while source.control_changes < number or source.last_control_gap is None:
                source.read(10.0)
            gaps.append(source.last_control_gap)
            source.last_control_gap = None
            for _ in range(5):
                source.read(10.0)
    return gaps


def gaps_of_supervised_restarts(config: RpicamConfig, changes: int) -> list[float]:
    gaps = []
    with RpicamSource(config) as source:
        source.read(10.0)
        for number in range(1, changes + 1):
            source.read(10.0)
            last = time.monotonic()
            source._process.kill()   # the restart path a crash takes: backoff, then start
            while source.stats.restarts < number:
                source.read(10.0)
            source.read(10.0)
            gaps.append(time.monotonic() - last)
            for _ in range(5):
                source.read(10.0)
    return gaps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, default=1024)
    parser.add_argument('--fps', type=float, default=25.0)
    parser.add_argument('--changes', type=int, default=10)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)   # the peer's restarts log a warning each
    with tempfile.TemporaryDirectory() as directory:
        install_fake(directory)
        config = RpicamConfig(width=args.size, height=args.size, fps=args.fps)
        print(f'fake rpicam-vid {args.size}x{args.size} @ {args.fps:g} fps, '
              f'{args.changes} changes each')
        for name, measure in (('live control change', gaps_of_control_changes),
                              ('supervised restart (peer)', gaps_of_supervised_restarts)):
            gaps = measure(config, args.changes)
            lost = [max(0.0, gap * args.fps - 1) for gap in gaps]
            print(f'  {name:28s} gap median {statistics.median(gaps) * 1e3:6.0f} ms, '
                  f'max {max(gaps) * 1e3:6.0f} ms; frames lost median '
                  f'{statistics.median(lost):.1f}, max {max(lost):.1f}')
            if name.startswith('live'):
                verdict = 'meets' if max(gaps) <= GOAL_S else 'misses'
                print(f'  {verdict} the goal of a gap <= {GOAL_S:g} s')


if __name__ == '__main__':
    main()
