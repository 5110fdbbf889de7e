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

"""Ctrl-C at any moment of the runner's first seconds: heard, quiet, one status, no child left.

A sweep sends SIGINT from 0 to 2 s after the start, in steps, to the runner with each kind of
source: synthetic (with the live stream through the real MediaMTX when there is one, so
MediaMTX and encoder start-up are in the sweep), an ffmpeg file input and rpicam (the fake
``rpicam-vid`` of test/). The moments cover loading (imports, dataclass creation: where the old
handler lost signals; a stop there ends the process at once), argument parsing, source and
stream start-up and the first frames.
Every run must end within ``STOP_BOUND_S`` of the signal with status ``EXIT_STOPPED``, print
nothing on stderr but the final status line (and the live-stream announcement), and leave no
process behind (see stop_harness.py, which also explains why signals wait, blocked, for the
program's first instruction).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
import json
import os
import subprocess
import sys

import fake_rpicam_vid
import pytest
import stop_harness
from stream_fixtures import find_mediamtx, runner_stream_flags

from picam_ros.core.shutdown import EXIT_STOPPED

RUNNER = [sys.executable, '-m', 'picam_ros', '--width', '640', '--height', '480',
          '--status-interval', '60']
#: Longest time from the signal to the exit: a guard against a signal that is lost or a stop
#: that hangs, with room for a 2-core machine loaded by other work (no speed claim).
STOP_BOUND_S = 6.0
#: The sweep: moments 0, STEP, ... up to 2 s; each source kind is offset by a third of a step,
#: so that together they hit the first 2 s every STEP / 3 s.
STEP_S = 0.1
MOMENTS = [round(i * STEP_S, 3) for i in range(int(2.0 / STEP_S) + 1)]


@pytest.fixture(scope='module')
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp('clip') / 'board.mp4'
    subprocess.run(['ffmpeg', '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i',
                    'testsrc2=size=640x480:rate=25', '-t', '2', '-pix_fmt', 'yuv420p',
                    str(path)], check=True, timeout=60)
    return path


def stream_flags(mediamtx: str | None) -> list[str]:
    return ['--stream', 'off'] if mediamtx is None else runner_stream_flags(mediamtx)


def stop_after(delay: float, args: list[str], env: dict[str, str]) -> dict:
    return {'args': args, **stop_harness.stop_after(delay, [*RUNNER, *args], env)}


def unexpected_output(stderr: str) -> list[str]:
    """Return the stderr lines other than one final status line and the stream announcement."""
    lines = stderr.splitlines()
    status = [line for line in lines if line.startswith('fps=')]
    others = [line for line in lines
              if not line.startswith(('fps=', '[info] live stream: '))]
    return others + status[:-1]


def test_sigint_at_any_moment_of_start_up_stops_quietly_with_one_status(
        clip, tmp_path, monkeypatch):
    fake_rpicam_vid.install_on_path(tmp_path, monkeypatch)
    env = dict(os.environ)
    mediamtx = find_mediamtx()
    kinds = {
        'synthetic': (0.0, lambda: stream_flags(mediamtx)),
        'ffmpeg': (STEP_S / 3, lambda: ['--source', 'ffmpeg', '--input', str(clip),
                                        '--stream', 'off']),
        'rpicam': (2 * STEP_S / 3, lambda: ['--source', 'rpicam', '--stream', 'off']),
    }
    runs = []
    with ThreadPoolExecutor(len(kinds)) as pool:
        for moment in MOMENTS:
            round_ = [pool.submit(stop_after, round(moment + offset, 3), flags(), env)
                      for offset, flags in kinds.values()]
            runs += [future.result() for future in round_]
            if any('error' in run for run in runs):
                pytest.skip(f'the harness cannot run here: {runs[-1]["error"]} (e.g. qemu '
                            f'user emulation refuses PR_SET_CHILD_SUBREAPER)')
    failures = [run for run in runs
                if run['status'] != EXIT_STOPPED or run['stop_s'] > STOP_BOUND_S
                or unexpected_output(run['stderr']) or run['left']]
    assert not failures, json.dumps(failures, indent=1)
    assert any('frames=0' not in run['stderr'] and 'fps=' in run['stderr'] for run in runs), (
        'the sweep must reach the running state too')
