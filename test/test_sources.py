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

"""Frame sources with real child processes: framing, restarts, stride, errors, no orphans."""

import itertools
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time

from camera_fixtures import assert_fake_frame, fake_camera_argv, install_fake_rpicam
import numpy as np
from proctree import process_gone, wait_until
import pytest

from picam_ros.core.config import ConfigError
from picam_ros.core.frames import FrameFormat
from picam_ros.sources import (
    CaptureConfig,
    FfmpegConfig,
    FfmpegSource,
    FrameTimeout,
    make_source,
    ProcessSource,
    RpicamConfig,
    RpicamSource,
    SourceConfig,
    SourceError,
    SourceStopped,
)
from picam_ros.sources.rpicam_controls import RpicamControls
from picam_ros.sources.synthetic import SyntheticSource

needs_ffmpeg = pytest.mark.skipif(shutil.which('ffmpeg') is None, reason='ffmpeg not installed')

# Uniform frames whose luma is 20 + (frame number mod 200): any framing error mixes values.
COUNTING_GRAPH = "lavfi:color=c=black:size=64x48:rate=50,geq=lum='mod(N,200)+20':cb=128:cr=128"


def fake_source(*options, width=64, height=48, **config):
    config.setdefault('frame_timeout', 1.0)
    config.setdefault('backoff_initial', 0.02)
    config.setdefault('backoff_max', 0.1)
    cfg = CaptureConfig(width=width, height=height, fps=50.0, **config)
    return ProcessSource(cfg, FrameFormat(width, height),
                         fake_camera_argv(width, height, '--framerate', 50, *options))


def read_frames(source, count, timeout=10.0):
    frames = []
    for _ in range(count):
        frame = source.read(timeout=timeout)
        frames.append((frame.sequence, assert_fake_frame(frame)))
    return frames


# -- ffmpeg ----------------------------------------------------------------------------------

@needs_ffmpeg
def test_ffmpeg_lavfi_frames_are_exact_and_numbered_in_order():
    cfg = FfmpegConfig(input=COUNTING_GRAPH, width=64, height=48, fps=50.0, realtime=False)
    with FfmpegSource(cfg) as source:
        seen, stamps = [], [0]
        for _ in range(40):
            frame = source.read(timeout=10)
            assert frame.data.size == FrameFormat(64, 48).frame_bytes
            assert (frame.y == frame.y[0, 0]).all(), 'a frame mixes two source frames'
            assert (frame.u == 128).all() and (frame.v == 128).all()
            assert int(frame.y[0, 0]) - 20 == frame.sequence % 200
            assert frame.mono_ns > stamps[-1] and frame.mono_ns <= time.monotonic_ns()
            stamps.append(frame.mono_ns)
            seen.append(frame.sequence)
        stats = source.stats
    assert seen == sorted(set(seen))
    gaps = sum(b - a - 1 for a, b in itertools.pairwise(seen))
    assert gaps <= stats.drops
    assert stats.restarts == 0 and stats.delivered == 40


@needs_ffmpeg
def test_ffmpeg_looped_file_keeps_delivering_past_its_end(tmp_path):
    clip = tmp_path / 'clip.mkv'
    subprocess.run(['ffmpeg', '-loglevel', 'error', '-f', 'lavfi', '-i',
                    'testsrc2=size=64x48:rate=25', '-frames:v', '5', '-c:v', 'ffv1', str(clip)],
                   check=True, timeout=60)
    cfg = FfmpegConfig(input=str(clip), width=32, height=24, fps=25.0, realtime=False)
    with FfmpegSource(cfg) as source:
        sequences = [source.read(timeout=10).sequence for _ in range(12)]
        assert sequences[-1] >= 11
        assert source.stats.restarts == 0


@needs_ffmpeg
def test_ffmpeg_file_without_loop_restarts_at_its_end(tmp_path):
    clip = tmp_path / 'clip.mkv'
    subprocess.run(['ffmpeg', '-loglevel', 'error', '-f', 'lavfi', '-i',
                    'testsrc2=size=64x48:rate=25', '-frames:v', '3', '-c:v', 'ffv1', str(clip)],
                   check=True, timeout=60)
    cfg = FfmpegConfig(input=str(clip), width=64, height=48, fps=25.0, realtime=False,
                       loop=False, backoff_initial=0.01, backoff_max=0.05)
    with FfmpegSource(cfg) as source:
        for _ in range(8):
            source.read(timeout=10)
        stats = source.stats
    assert stats.restarts >= 1
    assert 'output ended between frames' in stats.last_error
    assert 'exit status 0' in stats.last_error


@needs_ffmpeg
def test_ffmpeg_missing_input_file_is_refused_at_start(tmp_path):
    source = FfmpegSource(FfmpegConfig(input=str(tmp_path / 'missing.mp4')))
    with pytest.raises(SourceError, match='does not exist'):
        source.start()


def test_ffmpeg_arguments_follow_the_input_kind():
    file_args = FfmpegConfig(input='/videos/board.mp4', width=640, height=480).argv()
    assert file_args[file_args.index('-stream_loop') + 1] == '-1' and '-re' in file_args
    device = FfmpegConfig(input='/dev/video0', input_args='-input_format mjpeg').argv()
    assert device[device.index('-f') + 1] == 'v4l2' and '-re' not in device
    assert device[device.index('-i') - 2:device.index('-i')] == ['-input_format', 'mjpeg']
    rtsp = FfmpegConfig(input='rtsp://cam.local/stream').argv()
    assert '-rtsp_transport' in rtsp and '-stream_loop' not in rtsp and '-re' not in rtsp
    lavfi = FfmpegConfig(input='lavfi:testsrc2', realtime=False).argv()
    assert lavfi[lavfi.index('-i') + 1] == 'testsrc2' and '-re' not in lavfi
    out = file_args[file_args.index('-vf') + 1:]
    assert out == ['fps=25,scale=640:480,format=yuv420p', '-f', 'rawvideo', '-pix_fmt',
                   'yuv420p', 'pipe:1']


# -- faults and restarts ---------------------------------------------------------------------

def test_hung_writer_is_restarted_and_frames_flow_again():
    with fake_source('--frames', 3, '--fault', 'stall', frame_timeout=0.3) as source:
        frames = read_frames(source, 8)
        stats = source.stats
    assert stats.restarts >= 2
    assert 'no complete frame within 0.3 s' in stats.last_error
    assert [s for s, _ in frames] == sorted(s for s, _ in frames)


def test_output_truncated_mid_frame_restarts_without_returning_the_partial_frame():
    with fake_source('--frames', 2, '--fault', 'truncate') as source:
        frames = read_frames(source, 7)
        stats = source.stats
    assert stats.restarts >= 3
    assert 'output ended mid-frame' in stats.last_error
    assert {k for _, k in frames} <= {0, 1}   # only whole frames of each run


def test_writer_killed_mid_frame_is_restarted_and_the_cause_is_named():
    with fake_source('--frames', 2, '--fault', 'die') as source:
        read_frames(source, 5)
        stats = source.stats
    assert stats.restarts >= 2
    assert 'mid-frame' in stats.last_error and 'killed by signal 9' in stats.last_error


def test_writer_that_never_produces_a_frame_fails_with_its_stderr_after_max_failures():
    source = fake_source('--fault', 'exit', '--frames', 0, '--say', 'sensor not detected',
                         max_failures=3)
    with source, pytest.raises(SourceError, match='sensor not detected') as failure:
        source.read(timeout=20)
    assert '3 runs in a row ended without a frame' in str(failure.value)
    assert source.stats.restarts == 2


def test_restart_delay_doubles_per_failed_run_up_to_its_cap():
    source = fake_source('--fault', 'exit', '--frames', 0, max_failures=5,
                         backoff_initial=0.01, backoff_max=0.04)
    with source, pytest.raises(SourceError):
        source.read(timeout=20)
    stats = source.stats
    assert stats.restarts == 4 and stats.restart_delay == 0.04   # 0.01, 0.02, 0.04, 0.04


def test_source_that_gave_up_starts_afresh(monkeypatch):
    monkeypatch.setenv('FAKE_CAMERA_ARGS', '--fault exit --frames 0')
    source = fake_source(max_failures=2)
    source.start()
    with pytest.raises(SourceError, match='2 runs in a row'):
        source.read(timeout=20)
    assert not source.stats.running
    monkeypatch.setenv('FAKE_CAMERA_ARGS', '')   # the camera is back
    with source:
        read_frames(source, 2)


def test_slow_consumer_gets_the_newest_frame_and_skipped_frames_count_as_drops():
    with fake_source() as source:
        first = source.read(timeout=10).sequence
        threading.Event().wait(0.2)   # a slow consumer: about 10 frames are written meanwhile
        second = source.read(timeout=10).sequence
        stats = source.stats
    assert second - first > 1
    assert stats.drops >= second - first - 1


def test_a_held_frame_is_not_overwritten_by_the_next_reads():
    with fake_source('--unpaced') as source:
        held = source.read(timeout=10)
        k = assert_fake_frame(held)
        snapshot = held.data.copy()
        threading.Event().wait(0.1)   # the reader keeps filling the other pool buffers
        assert np.array_equal(held.data, snapshot) and int(held.y[0, 0]) == k


def test_read_times_out_while_the_source_keeps_running():
    with fake_source('--framerate', 1, frame_timeout=5.0) as source:
        source.read(timeout=10)
        with pytest.raises(FrameTimeout):
            source.read(timeout=0.05)
        assert source.stats.running


def test_stop_ends_a_blocked_read_and_leaves_no_child():
    source = fake_source('--framerate', 0.5, frame_timeout=30.0)
    source.start()
    source.read(timeout=10)
    pid = source.pid
    outcome = []

    def reader():
        try:
            source.read()
        except SourceStopped:
            outcome.append('stopped')

    thread = threading.Thread(target=reader)
    thread.start()
    source.stop()
    thread.join(timeout=10)
    assert outcome == ['stopped']
    assert process_gone(pid)


def test_read_before_start_is_an_error():
    with pytest.raises(SourceStopped):
        fake_source().read(timeout=5)


def test_missing_binary_is_refused_at_start():
    source = RpicamSource(RpicamConfig(binary='no-such-rpicam-vid'))
    with pytest.raises(SourceError, match='no-such-rpicam-vid.*not found'):
        source.start()


def test_killing_the_owning_python_process_leaves_no_child(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(os.path.dirname(__file__))!r})
        from camera_fixtures import fake_camera_argv
        from picam_ros.core.frames import FrameFormat
        from picam_ros.sources import CaptureConfig, ProcessSource
        source = ProcessSource(CaptureConfig(width=64, height=48),
                               FrameFormat(64, 48), fake_camera_argv(64, 48))
        source.start()
        source.read(timeout=10)
        print(source.pid, flush=True)
        sys.stdin.read()
    """)
    owner = subprocess.Popen([sys.executable, '-c', script], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        child = int(owner.stdout.readline())
        assert not process_gone(child)
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=10)
        assert wait_until(lambda: process_gone(child))
    finally:
        owner.kill()
        owner.wait()


# -- rpicam-vid (fake on PATH) ------------------------------------------------------------------

@pytest.fixture
def fake_rpicam(tmp_path, monkeypatch):
    return install_fake_rpicam(tmp_path, monkeypatch)


def test_rpicam_padded_rows_are_parsed_into_exact_frames(fake_rpicam):
    # rpicam-apps #188: 780-wide frames come with rows padded to 832 bytes.
    cfg = RpicamConfig(width=780, height=64, fps=30.0)
    assert cfg.frame_format.row_stride == 832
    with RpicamSource(cfg) as source:
        frames = read_frames(source, 4)
        frame = source.read(timeout=10)
        assert frame.format.frame_bytes == 832 * 64 * 3 // 2
        assert np.array_equal(frame.to_i420()[:780], frame.y[0])
    assert len({k for _, k in frames}) == 4


def test_rpicam_gets_its_command_line_with_extra_arguments(fake_rpicam):
    cfg = RpicamConfig(width=128, height=64, fps=30.0, camera=1, extra_args='--vflip',
                       sensor_timestamps=False)
    with RpicamSource(cfg) as source:
        source.read(timeout=10)
    assert fake_rpicam.read_text().split('\n')[1:-1] == [
        '--flush', '-t', '0', '--camera', '1', '--nopreview', '--codec', 'yuv420',
        '--framerate', '30', '--width', '128', '--height', '64', '--inline', '--vflip',
        '-o', '-']


def test_rpicam_explicit_stride_is_used(fake_rpicam, monkeypatch):
    monkeypatch.setenv('FAKE_CAMERA_ARGS', '--stride 160')
    with RpicamSource(RpicamConfig(width=130, height=64, fps=30.0, stride=160)) as source:
        read_frames(source, 2)


def test_rpicam_frames_of_another_size_are_refused_naming_the_real_stride(fake_rpicam,
                                                                          monkeypatch):
    monkeypatch.setenv('FAKE_CAMERA_ARGS', '--stride 780')   # unpadded, 832 expected
    source = RpicamSource(RpicamConfig(width=780, height=64, fps=30.0))
    with source, pytest.raises(SourceError, match='rows are 780 bytes apart: set stride=780'):
        source.read(timeout=20)
    assert source.stats.restarts == 0 and source.stats.frames == 0


def test_rpicam_size_adjusted_by_the_camera_is_refused_with_its_own_words(
        fake_rpicam, monkeypatch):
    monkeypatch.setenv('FAKE_CAMERA_ARGS', '--height 60 --say "Stream configuration adjusted"')
    source = RpicamSource(RpicamConfig(width=768, height=64, fps=30.0))
    with source, pytest.raises(SourceError, match='changed the requested size') as failure:
        source.read(timeout=20)
    assert 'rpicam-vid said: Stream configuration adjusted' in str(failure.value)


def test_rpicam_frames_without_idle_time_are_trusted_and_stay_aligned(fake_rpicam, monkeypatch):
    monkeypatch.setenv('FAKE_CAMERA_ARGS', '--unpaced')
    with RpicamSource(RpicamConfig(width=64, height=32, fps=30.0)) as source:
        read_frames(source, 5)


def test_rpicam_pipe_reads_an_rpicam_vid_started_elsewhere_and_its_restart(tmp_path):
    # A node in a container, the camera on the host: rpicam-vid writes into a FIFO both see.
    fifo = tmp_path / 'cam0.yuv'
    os.mkfifo(fifo)
    host_argv = fake_camera_argv(128, 64, '--as-rpicam', '--flush', '-t', '0', '--camera', '0',
                                 '--nopreview', '--codec', 'yuv420', '--inline', '-o', fifo)
    cfg = RpicamConfig(width=128, height=64, fps=30.0, pipe=str(fifo), backoff_max=0.5)
    writer = subprocess.Popen(host_argv)
    try:
        with RpicamSource(cfg) as source:
            assert len(read_frames(source, 3)) == 3
            writer.kill()
            writer.wait()
            writer = subprocess.Popen(host_argv)   # the host starts rpicam-vid again
            assert len(read_frames(source, 3, timeout=15.0)) == 3
            assert source.stats.restarts >= 1
            assert source.sensor_stamps == 0 and source.read_stamps >= 6   # stamped when read
    finally:
        writer.kill()
        writer.wait()


@pytest.mark.parametrize(('make', 'message'), [
    (lambda path: path.write_bytes(b''), 'is not a FIFO'),
    (lambda path: None, 'No such file or directory'),
])
def test_rpicam_pipe_that_is_no_fifo_is_refused_at_start_in_one_line(tmp_path, make, message):
    path = tmp_path / 'cam0.yuv'
    make(path)
    source = RpicamSource(RpicamConfig(width=128, height=64, pipe=str(path)))
    with pytest.raises(SourceError, match=message):
        source.start()


def test_rpicam_pipe_refuses_options_only_a_started_rpicam_vid_takes():
    with pytest.raises(ConfigError, match='extra_args'):
        RpicamConfig(pipe='/run/picam/cam0', extra_args='--vflip')
    with pytest.raises(ConfigError, match='controls'):
        RpicamConfig(pipe='/run/picam/cam0', controls=RpicamControls(shutter=8000))


def test_rpicam_stride_must_hold_a_row():
    with pytest.raises(ValueError, match='stride'):
        RpicamConfig(width=780, height=64, stride=700)


def test_rpicam_extra_args_cannot_redirect_the_output():
    with pytest.raises(ValueError, match='-o'):
        RpicamConfig(extra_args=('-o', 'file.yuv'))


# -- configuration ---------------------------------------------------------------------------

def test_make_source_builds_each_kind_from_the_flat_config():
    assert isinstance(make_source(SourceConfig()), SyntheticSource)
    rpicam = make_source(SourceConfig(source='rpicam', width=780, height=438,
                                      extra_args='--vflip --gain 2'))
    assert isinstance(rpicam, RpicamSource) and rpicam.format.row_stride == 832
    assert rpicam.config.extra_args == ('--vflip', '--gain', '2')
    ffmpeg = make_source(SourceConfig(source='ffmpeg', input='/dev/video0', width=640,
                                      height=480))
    assert isinstance(ffmpeg, FfmpegSource) and ffmpeg.format == FrameFormat(640, 480)


@pytest.mark.parametrize('values, message', [
    ({'source': 'webcam'}, "^source: 'webcam' is not one of synthetic, rpicam, ffmpeg$"),
    ({'source': 'ffmpeg'}, 'input'),
    ({'width': 641}, 'even'),
    ({'fps': 0}, '^fps: 0 is below the minimum 0.1$'),
    ({'fps': 'fast'}, "^fps: must be a number, got 'fast'$"),
    ({'camera': True}, '^camera: must be an integer, got True$'),
    ({'resolution': 5}, 'unknown option'),
])
def test_invalid_source_settings_are_rejected_naming_the_field(values, message):
    with pytest.raises(ValueError, match=message):
        SourceConfig.from_dict(values)


def test_config_fields_carry_ranges_and_descriptions_for_parameters():
    table = {name: meta for name, _, meta in SourceConfig.field_table()}
    assert table['fps']['min'] == 0.1 and table['fps']['type'] is float
    assert table['source']['choices'] == ('synthetic', 'rpicam', 'ffmpeg')
    assert all(meta['description'] for meta in table.values())


def test_stopping_a_large_ffmpeg_source_ends_the_child_without_sigkill():
    # At 1280x720 one frame fills the pipe: a child blocked writing it ignores SIGINT/SIGTERM,
    # so only closing our end first (EPIPE) ends it before the SIGKILL of the stop timeout.
    source = FfmpegSource(FfmpegConfig(input='lavfi:testsrc2=size=1280x720:rate=25',
                                       width=1280, height=720))
    with source:
        source.read(timeout=20)
        process = source._process
    assert process.returncode is not None
    assert process.returncode != -signal.SIGKILL, process.returncode
