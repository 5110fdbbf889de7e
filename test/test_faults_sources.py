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

"""Faults of source children: stops under a full pipe, hung children, repeated kills, backoff.

Real children only: ffmpeg writing raw frames into a pipe nobody drains, and the fake camera
killed, stopped or failing. Times are never asserted; what is pinned is how a child ends (its
status, whether the supervisor had to escalate) and which restart delay was chosen.
"""

import logging
import os
import re
import shutil
import signal
import sys

from camera_fixtures import fake_camera_argv, install_fake_rpicam
from proctree import process_gone, wait_until
import pytest

from picam_ros.camera.runtime import CameraRuntime
from picam_ros.camera.settings import camera_parameter_rows
from picam_ros.core.frames import FrameFormat
from picam_ros.core.process import ManagedProcess, ProcessSpec
from picam_ros.sources import (
    CaptureConfig,
    FfmpegConfig,
    FfmpegSource,
    make_source,
    ProcessSource,
    RpicamConfig,
    RpicamSource,
    SourceConfig,
    SourceError,
)

GUARD_S = 30.0   # failure guard only
needs_ffmpeg = pytest.mark.skipif(shutil.which('ffmpeg') is None, reason='ffmpeg not installed')


class Records(logging.Handler):
    """Messages of one logger, whatever the logging setup (launch's loggers do not propagate)."""

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__(logging.DEBUG)
        self.logger = logger
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def __enter__(self) -> 'Records':  # noqa: PYI034 - typing.Self needs 3.11
        self.logger.addHandler(self)
        self._level = self.logger.level
        self.logger.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(self._level)

    def matching(self, pattern: str) -> list[str]:
        return [m for m in self.messages if re.search(pattern, m)]


def raw_ffmpeg_argv(size='1024x1024'):
    """Return an ffmpeg command writing raw 4:2:0 frames to stdout as fast as it can."""
    return ['ffmpeg', '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error',
            '-f', 'lavfi', '-i', f'testsrc2=size={size}:rate=25',
            '-f', 'rawvideo', '-pix_fmt', 'yuv420p', 'pipe:1']


def fake_source(*options, width=64, height=48, **config):
    config.setdefault('frame_timeout', 1.0)
    config.setdefault('backoff_initial', 0.05)
    config.setdefault('backoff_max', 2.0)
    cfg = CaptureConfig(width=width, height=height, fps=50.0, **config)
    logger = logging.getLogger(f'picam_ros.test.faults.{os.getpid()}')
    return ProcessSource(cfg, FrameFormat(width, height),
                         fake_camera_argv(width, height, '--framerate', 50, *options), logger)


def blocked_in_pipe_write(pid):
    try:
        with open(f'/proc/{pid}/wchan') as f:
            return f.read().endswith('pipe_write')
    except OSError:
        return False


def restart_delays(records):
    return [float(d) for d in
            (re.search(r'restarting in ([0-9.]+) s', m).group(1)
             for m in records.matching(r'restarting in'))]


# -- item 4: a stop closes the pipe before it signals ---------------------------------------

@needs_ffmpeg
def test_ffmpeg_blocked_on_a_full_stdout_pipe_stops_on_sigint_without_sigkill():
    child = ManagedProcess(ProcessSpec(name='ffmpeg', argv=raw_ffmpeg_argv(), stdout_pipe=True))
    with Records(child.logger) as records:
        child.start()
        assert child.stdout.read(4096)
        # Nobody reads any more: once the pipe is full, ffmpeg sits in write() mid-frame.
        assert wait_until(lambda: blocked_in_pipe_write(child.pid))
        child.stop()
    assert child.returncode is not None
    assert child.returncode != -signal.SIGKILL, 'the stop had to escalate to SIGKILL'
    assert not records.matching('SIGTERM|SIGKILL'), 'the stop had to escalate'


@needs_ffmpeg
def test_ffmpeg_source_stopped_while_frames_queue_up_ends_on_sigint_without_sigkill():
    cfg = FfmpegConfig(input='lavfi:testsrc2=size=1024x1024:rate=25', width=1024, height=1024,
                       realtime=False)
    source = FfmpegSource(cfg)
    with Records(source.logger) as records:
        source.start()
        for _ in range(3):
            source.read(timeout=10)
        pid = source.pid
        # Frames come faster than the reader's exchange takes them apart: ffmpeg is in write().
        assert wait_until(lambda: blocked_in_pipe_write(pid))
        source.stop()
    assert process_gone(pid)
    assert source._process.returncode != -signal.SIGKILL
    assert not records.matching('SIGTERM|SIGKILL'), 'the stop had to escalate'


# -- item 3: a hung child is killed at once --------------------------------------------------

def test_a_stopped_child_is_replaced_with_sigkill_without_asking_it_to_stop_first():
    source = fake_source(frame_timeout=0.5)
    with Records(source.logger) as records:
        source.start()
        try:
            source.read(timeout=10)
            hung = source.pid
            os.kill(hung, signal.SIGSTOP)
            assert wait_until(lambda: source.pid not in (None, hung), timeout=15)
            frame = source.read(timeout=10)
            assert frame is not None
        finally:
            source.stop()
    assert process_gone(hung)
    assert records.matching(r'no complete frame within 0\.5 s')
    # The escalation (SIGINT, then SIGTERM, then SIGKILL) is what cost 2 s per hang.
    assert not records.matching('SIGTERM')


def test_restart_of_a_hung_child_kills_it_even_when_it_ignores_every_polite_signal():
    code = ('import signal, time\n'
            'signal.signal(signal.SIGINT, signal.SIG_IGN)\n'
            'signal.signal(signal.SIGTERM, signal.SIG_IGN)\n'
            'print("up", flush=True)\n'
            'time.sleep(60)\n')
    lines = []
    child = ManagedProcess(ProcessSpec(
        name='stubborn', argv=[sys.executable, '-c', code], backoff_initial=0.01,
        on_output=lines.append, ready=lambda: len(lines) > starts[0]))
    starts = [0]
    with Records(child.logger) as records:
        child.start()
        first = child.pid
        starts[0] = len(lines)
        assert child.restart('hung', hung=True)
        second = child.pid
        child.stop()
    assert process_gone(first) and first != second
    stops = records.matching('ignored SIGINT and SIGTERM')
    assert len(stops) == 1 and str(second) in stops[0], 'only the final stop may escalate'


# -- item 2: restart delays ------------------------------------------------------------------

def test_a_camera_killed_ten_times_in_a_row_comes_back_after_the_initial_delay_each_time():
    source = fake_source(backoff_initial=0.05, backoff_max=5.0)
    with Records(source.logger) as records:
        source.start()
        try:
            for _ in range(10):
                source.read(timeout=10)
                killed = source.pid
                os.kill(killed, signal.SIGKILL)
                assert wait_until(lambda k=killed: source.pid not in (None, k), timeout=15)
                source.read(timeout=10)   # frames flow again from the new child
        finally:
            source.stop()
    assert restart_delays(records) == [0.05] * 10
    assert source.stats.restarts == 10


def test_a_camera_that_never_delivers_still_backs_off_up_to_backoff_max():
    source = fake_source('--frames', 0, '--fault', 'exit', backoff_initial=0.05,
                         backoff_max=0.2, max_failures=6)
    with Records(source.logger) as records:
        source.start()
        try:
            with pytest.raises(Exception, match='6 runs in a row ended without a frame'):
                source.read(timeout=30)
        finally:
            source.stop()
    assert restart_delays(records) == [0.05, 0.1, 0.2, 0.2, 0.2]


def test_backoff_max_is_a_source_setting_the_camera_node_declares():
    rows = {row.name: row for row in camera_parameter_rows()}
    assert 'backoff_max' in rows and 'backoff_initial' in rows
    assert rows['backoff_max'].description
    source = make_source(SourceConfig(source='ffmpeg', input='lavfi:testsrc2', backoff_max=1.5,
                                      backoff_initial=0.1))
    assert source.config.backoff_max == 1.5 and source.config.backoff_initial == 0.1
    with pytest.raises(ValueError, match='backoff_max'):
        SourceConfig(source='ffmpeg', input='lavfi:testsrc2', backoff_max=0.05,
                     backoff_initial=0.1)


# -- item 7: what a broken camera is said to have done ----------------------------------------

@pytest.fixture
def fake_rpicam(tmp_path, monkeypatch):
    return install_fake_rpicam(tmp_path, monkeypatch)


@pytest.mark.parametrize('options, said', [
    (('--frames', 0), 'wrote nothing at all: its output closed before the first byte'),
    (('--fault', 'silent'), 'wrote nothing at all within 0.5 s of its start'),
])
def test_a_camera_that_writes_nothing_is_said_to_have_written_nothing(options, said):
    source = fake_source(*options, max_failures=1, start_timeout=0.5)
    with source, pytest.raises(SourceError) as failure:
        source.read(timeout=GUARD_S)
    assert said in str(failure.value)
    assert 'no complete frame' not in str(failure.value)


@pytest.mark.parametrize('fault, said', [
    ('--frames 0', 'wrote nothing at all: its output closed before the first byte'),
    ('--fault silent', 'wrote nothing at all within 0.5 s of its start'),
])
def test_an_rpicam_that_writes_nothing_is_not_said_to_fail_the_frame_size_check(
        fake_rpicam, monkeypatch, fault, said):
    monkeypatch.setenv('FAKE_CAMERA_ARGS', fault)
    source = RpicamSource(RpicamConfig(width=64, height=32, fps=30.0, max_failures=1,
                                       start_timeout=0.5))
    with source, pytest.raises(SourceError) as failure:
        source.read(timeout=GUARD_S)
    assert said in str(failure.value)
    assert 'frame size check' not in str(failure.value)


def test_an_rpicam_writing_random_bytes_is_refused_before_any_frame_is_published(
        fake_rpicam, monkeypatch):
    monkeypatch.setenv('FAKE_CAMERA_ARGS', '--fault noise')
    source = RpicamSource(RpicamConfig(width=64, height=32, fps=30.0))
    with source, pytest.raises(SourceError, match='cannot confirm the frame size') as failure:
        source.read(timeout=GUARD_S)
    assert 'Not publishing it' in str(failure.value)
    assert source.stats.frames == 0 and source.stats.delivered == 0


def test_an_ffmpeg_writing_random_bytes_is_refused_before_any_frame_is_published(tmp_path):
    fake = tmp_path / 'ffmpeg'
    fake.write_text('#!/bin/sh\nexec cat /dev/urandom\n')
    fake.chmod(0o755)
    source = FfmpegSource(FfmpegConfig(width=64, height=32, input='lavfi:testsrc2',
                                       binary=str(fake)))
    with source, pytest.raises(SourceError, match='does not look like 64x32 i420 frames'):
        source.read(timeout=GUARD_S)
    assert source.stats.frames == 0 and source.stats.delivered == 0


def test_the_capture_error_names_the_source_once_without_exception_type_prefixes(
        fake_rpicam, monkeypatch):
    monkeypatch.setenv('FAKE_CAMERA_ARGS', '--frames 0')
    source = RpicamSource(RpicamConfig(width=64, height=32, fps=30.0, max_failures=1))
    errors = []
    runtime = CameraRuntime(source, on_capture_error=errors.append)
    with runtime:
        assert wait_until(lambda: errors, timeout=GUARD_S)
    assert errors[0].startswith('capture stopped: rpicam: 1 runs in a row ended without a '
                                'frame')
    assert 'SourceError' not in errors[0] and errors[0].count('rpicam:') == 1
