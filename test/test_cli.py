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

"""The standalone runner (``python -m picam_ros``) end to end, as a user runs it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

from camera_fixtures import install_fake_rpicam
import numpy as np
from proctree import descendants, process_gone, wait_until
import pytest
from stream_fixtures import free_tcp_port

from picam_ros.camera.runtime import RuntimeStats, StreamState
from picam_ros.cli import status_line
from picam_ros.sources.synthetic import SyntheticConfig, SyntheticSource

RUN = [sys.executable, '-m', 'picam_ros']
SMALL = ['--width', '512', '--height', '512', '--status-interval', '0', '--stream', 'off']


def run_cli(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    return subprocess.run([*RUN, *args], check=False, capture_output=True, text=True,
                          timeout=timeout)


def final_status(stderr: str) -> dict[str, int]:
    line = [ln for ln in stderr.splitlines() if ln.startswith('fps=')][-1]
    return {key: int(value) for key, value in re.findall(r'(\w+)=(\d+)\b', line)
            if key in ('frames', 'processed', 'drops', 'restarts', 'centroids')}


def test_json_centroids_match_the_synthetic_ground_truth():
    result = run_cli(*SMALL, '--frames', '4', '--json')
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 4
    scene = SyntheticSource(SyntheticConfig(width=512, height=512))
    for record in records:
        truth = scene.ground_truth(record['sequence'])
        found = np.array([[c['x'], c['y']] for c in record['centroids']])
        assert len(found) == len(truth)
        expected = np.stack([truth['x'], truth['y']], axis=1)
        # The order is the same by contract (largest first, ties in raster order).
        assert np.abs(found - expected).max() < 0.01
        assert [c['area'] for c in record['centroids']] == truth['area'].tolist()


def test_snapshot_shows_the_frame_with_a_cross_on_each_centroid(tmp_path):
    cv2 = pytest.importorskip('cv2', reason='OpenCV decodes the snapshot')
    snapshot = tmp_path / 'snap.png'
    result = run_cli(*SMALL, '--frames', '2', '--json', '--snapshot', str(snapshot))
    assert result.returncode == 0, result.stderr
    image = cv2.imread(str(snapshot), cv2.IMREAD_COLOR)
    assert image.shape == (512, 512, 3)
    last = json.loads(result.stdout.splitlines()[-1])
    assert last['centroids'], 'the synthetic board has pads'
    # A cross is drawn in a colour the grey board and tinted pads never have: red dominates.
    b, g, r = (image[..., i].astype(int) for i in range(3))
    reddish = (r > 150) & (r > g + 80) & (r > b + 80)
    for c in last['centroids'][:10]:
        x, y = round(c['x']), round(c['y'])
        assert reddish[max(0, y - 2):y + 3, max(0, x - 2):x + 3].any(), c


def test_process_every_n_processes_only_that_share_of_frames():
    result = run_cli(*SMALL, '--status-interval', '60', '--frames', '6', '--process-every-n', '4',
                     '--paced')
    assert result.returncode == 0, result.stderr
    status = final_status(result.stderr)
    assert status['processed'] == 6
    # Frames 0, 4, 8, ... are processed: the sixth processed frame is frame 20.
    assert status['frames'] >= 21


def test_ffmpeg_input_runs_through_the_same_pipeline():
    result = run_cli('--source', 'ffmpeg', '--input', 'lavfi:testsrc2=size=320x240:rate=25',
                     '--width', '320', '--height', '240', '--stream', 'off',
                     '--status-interval', '0', '--frames', '3', '--json', '--luma-min', '200')
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r['sequence'] for r in records] == sorted(r['sequence'] for r in records)
    assert len(records) == 3
    assert all(r['centroids'] for r in records), 'testsrc2 has bright areas above 200'


@pytest.mark.parametrize('args, message', [
    (['--luma-min', '300'], '--luma-min: 300 is above the maximum 255'),
    (['--width', '3'], '--width: 3 is below the minimum 256 (the synthetic source)'),
    (['--width', '1001'], ('--width: i420 is 4:2:0 subsampled: width and height must be even, '
                           'got 1001x512 (the synthetic source)')),
    (['--source', 'rpicam', '--height', '1023'], ('--height: width and height must be even '
                                                  '(4:2:0 chroma), got 512x1023 (the rpicam '
                                                  'source)')),
    (['--input', 'foo.mp4'], ('--input: applies to the ffmpeg source only, and the source is '
                              'synthetic (--source)')),
    (['--source', 'rpicam', '--seed', '3'], ('--seed: applies to the synthetic source only, and '
                                             'the source is rpicam (--source)')),
    (['--source', 'rpicam', '--extra-args', '--vflip "x'],
     '--extra-args: no closing quotation in \'--vflip "x\' (shell syntax) (the rpicam source)'),
    (['--snapshot', '/nonexistent-dir/x.png'], ('--snapshot: /nonexistent-dir/x.png: the folder '
                                                '/nonexistent-dir does not exist')),
    (['--source', 'ffmpeg'], ('--input: must name the ffmpeg input: a file, /dev/videoN, an '
                              'rtsp:// URL or lavfi:<graph> (the ffmpeg source)')),
    (['--process-every-n', '0'], '--process-every-n: 0 is below the minimum 1'),
    (['--stream-backoff-max', '0.1'], ('--stream-backoff-max: 0.1 must be >= '
                                       '--stream-backoff-initial (0.2)')),
    (['--luma-min', '200', '--luma-max', '100'], ('--luma-min: 200 is greater than --luma-max '
                                                  '100')),
    (['--stream', 'off', '--stream-crf', '20', '--stream-bitrate-kbps', '900'],
     '--stream-crf: set either --stream-bitrate-kbps or --stream-crf, not both'),
])
def test_a_bad_value_is_one_line_naming_the_flag(args, message):
    result = run_cli(*SMALL, '--frames', '1', '--stream', 'on', *args)
    assert result.returncode == 2
    assert result.stderr == f'picam-ros: error: {message}\n'


def test_a_value_outside_the_choices_is_one_line_naming_the_flag():
    result = run_cli(*SMALL, '--frames', '1', '--connectivity', '5')
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        'picam-ros: error: argument --connectivity: invalid choice: 5 (choose from 4, 8)']


def test_help_names_values_not_ros_parameters_and_says_not_set_once():
    text = run_cli('--help').stdout
    assert 'PADS.' not in text and 'STREAM.' not in text and '--luma-min N ' in text
    assert 'None' not in text and '= not set' not in text and '(default: )' not in text
    assert '--connectivity {4,8}  Pixel connectivity' in text and '[4..8]' not in text


def test_sigint_stops_cleanly_and_leaves_no_child_process():
    proc = subprocess.Popen(
        [*RUN, '--source', 'ffmpeg', '--input', 'lavfi:testsrc2=size=320x240:rate=25',
         '--width', '320', '--height', '240', '--stream', 'off', '--status-interval', '0.2'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Wait for a status line with a processed frame: capture runs and its ffmpeg child
        # exists (the first lines may come before ffmpeg's first frame).
        line = proc.stderr.readline()
        while line and not re.search(r'processed=[1-9]', line):
            line = proc.stderr.readline()
        assert re.search(r'processed=[1-9]', line), 'the runner never processed a frame'
        children = descendants(proc.pid)
        assert children, 'the ffmpeg source runs as a child process'
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert wait_until(lambda: all(process_gone(pid) for pid in children))


def test_stream_on_without_a_server_binary_reports_it_and_keeps_capturing(tmp_path):
    env = dict(os.environ, PATH=f'{tmp_path}:/usr/bin:/bin', MEDIAMTX='',
               PICAM_CACHE=str(tmp_path))
    result = subprocess.run([*RUN, *SMALL[:-2], '--stream', 'on', '--frames', '3', '--json'],
                            check=False, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 3
    assert 'mediamtx' in result.stderr.lower()
    assert f'{tmp_path}/mediamtx-*/mediamtx' in result.stderr, 'where it looked'


def test_stream_auto_without_a_server_binary_says_where_it_looked(tmp_path):
    env = dict(os.environ, PATH=f'{tmp_path}:/usr/bin:/bin', MEDIAMTX='',
               PICAM_CACHE=str(tmp_path))
    result = subprocess.run([*RUN, *SMALL[:-2], '--frames', '1'], check=False,
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    looked = f'looked on PATH and in {tmp_path}/mediamtx-*/mediamtx'
    assert result.stderr.splitlines() == [(
        f'[info] no mediamtx binary found ({looked}; give one with $MEDIAMTX or '
        f'--stream-mediamtx-path): running without the live stream')]


@pytest.mark.parametrize('args, message', [
    (['--source', 'ffmpeg', '--input', 'no-such-clip.mp4'],
     "ffmpeg: input 'no-such-clip.mp4' does not exist"),
    (['--source', 'ffmpeg', '--input', '/dev/video-none'],
     "ffmpeg: input '/dev/video-none' does not exist"),
])
def test_an_input_that_cannot_work_is_one_line_without_a_traceback(args, message):
    result = run_cli(*SMALL, *args)
    assert result.returncode == 1
    assert result.stderr == f'picam-ros: error: {message}\n'


def test_a_missing_rpicam_vid_is_one_line_without_a_traceback(tmp_path):
    env = {**os.environ, 'PATH': str(tmp_path)}
    result = subprocess.run([*RUN, *SMALL, '--source', 'rpicam'], check=False,
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 1
    message = ("picam-ros: error: rpicam: cannot start 'rpicam-vid': not found or not "
               'executable (is it installed and on PATH?)')
    assert result.stderr.splitlines() == [message]


def test_closing_stdout_early_stops_the_runner_with_one_line():
    proc = subprocess.Popen([*RUN, *SMALL, '--json'], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert json.loads(proc.stdout.readline())['sequence'] >= 0
    proc.stdout.close()   # what `| head -1` does
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert stderr.splitlines() == ['picam-ros: stopped: stdout was closed']


def test_status_interval_zero_prints_no_status_line():
    result = run_cli(*SMALL, '--frames', '2')
    assert result.returncode == 0, result.stderr
    assert not [line for line in result.stderr.splitlines() if line.startswith('fps=')]


def test_a_stream_without_a_server_says_connecting_not_running():
    result = run_cli('--width', '256', '--height', '256', '--frames', '30',
                     '--status-interval', '0.3', '--stream-external-server',
                     '--stream-rtsp-port', str(free_tcp_port()))
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith('fps=')]
    assert any('stream=connecting' in line for line in lines), lines
    assert not any('stream=running' in line for line in lines), lines
    assert 'live stream:' not in result.stderr


def test_with_a_duration_the_final_status_line_is_printed_once():
    result = run_cli(*SMALL[:-2], '--stream', 'off', '--duration', '1', '--status-interval', '0.5')
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and all(line.startswith('fps=') for line in lines), lines


def test_a_stop_before_the_first_frame_is_a_clean_stop_not_an_error(tmp_path, monkeypatch):
    install_fake_rpicam(tmp_path, monkeypatch)
    monkeypatch.setenv('FAKE_CAMERA_ARGS', '--fault silent')   # runs, never writes a frame
    proc = subprocess.Popen([*RUN, *SMALL, '--source', 'rpicam', '--status-interval', '60'],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: descendants(proc.pid), timeout=30), 'ffmpeg never started'
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert len(err.splitlines()) == 1 and 'processed=0' in err, err


def test_a_source_writing_garbage_is_refused_in_one_line_as_the_camera_node_does(tmp_path):
    fake = tmp_path / 'ffmpeg'
    fake.write_text('#!/bin/sh\nexec cat /dev/urandom\n')
    fake.chmod(0o755)
    env = dict(os.environ, PATH=f'{tmp_path}:{os.environ["PATH"]}')
    result = subprocess.run([*RUN, *SMALL, '--source', 'ffmpeg', '--input', 'lavfi:testsrc2',
                             '--json'], check=False, capture_output=True, text=True,
                            timeout=60, env=env)
    assert result.returncode == 1
    assert result.stdout == '', 'no centroids of garbage'
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        '[error] capture stopped: ffmpeg: what ffmpeg writes does not look like 512x512 i420 '
        'frames'), lines


def stats_of_a_stall(frame_age: float, error_age: float | None) -> RuntimeStats:
    return RuntimeStats(running=True, frames=100, fps=0.0, drops=0, source_restarts=1,
                        source_error='ffmpeg: output ended between frames', capture_error=None,
                        last_frame_age=frame_age, sink_errors=0,
                        stream_state=StreamState.DISABLED, stream_error=None,
                        server_ready=None, source_error_age=error_age)


def test_the_status_line_shows_the_error_of_the_current_stall():
    line = status_line(stats_of_a_stall(frame_age=3.0, error_age=0.5), 100, 0, 0.0)
    assert line.endswith("last_error='ffmpeg: output ended between frames'")


def test_the_status_line_shows_a_new_stall_not_the_error_of_a_past_incident():
    line = status_line(stats_of_a_stall(frame_age=1.5, error_age=60.0), 100, 0, 0.0)
    assert 'last_error' not in line and line.endswith('no_frame_for=1.5s')
    flowing = status_line(stats_of_a_stall(frame_age=0.04, error_age=60.0), 100, 0, 0.0)
    assert 'last_error' not in flowing and 'no_frame_for' not in flowing
