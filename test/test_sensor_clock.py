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

"""Sensor timestamps: pts mapped onto the node clock without the pipe's jitter."""

import logging
import os

from camera_fixtures import install_fake_rpicam
import fake_rpicam_vid
from log_records import records_of
import numpy as np

from picam_ros.sources import RpicamConfig, RpicamSource
from picam_ros.sources.rpicam_controls import RpicamControls
from picam_ros.sources.sensor_clock import PTS_HEADER, PtsPipe, SensorClock

PERIOD_MS = 40.0   # 25 fps


def interval_errors_ms(stamps_ns, sequences):
    """Deviation of each stamp interval from the frame period (drops counted by sequence)."""
    stamps = np.asarray(stamps_ns, dtype=np.int64)
    steps = np.diff(np.asarray(sequences))
    return np.diff(stamps) / 1e6 - steps * PERIOD_MS


def test_minimum_delay_filter_removes_random_pipe_delays():
    rng = np.random.default_rng(1)
    clock = SensorClock()
    offset_ns = 123_456_789_000
    pts = np.arange(300) * PERIOD_MS
    reads = offset_ns + (pts * 1e6).astype(np.int64) + rng.integers(0, 15_000_000, 300)
    stamps = [clock.stamp(p, int(r)) for p, r in zip(pts, reads)]
    sensor = interval_errors_ms(stamps[25:], range(275))
    read = interval_errors_ms(reads[25:], range(275))
    assert sensor.std() < 0.2 and read.std() > 4.0
    assert all(s <= r for s, r in zip(stamps, reads))   # never later than it was read


def test_stamps_never_go_backwards():
    clock = SensorClock()
    first = clock.stamp(100.0, 1_000_000_000)
    second = clock.stamp(99.0, 1_000_000_100)   # a pts that steps back
    assert second > first


def test_a_pts_far_from_its_read_time_is_out_of_step_and_resets_the_offset():
    clock = SensorClock(max_delay_s=1.0)
    clock.stamp(0.0, 10_000_000_000)
    assert clock.stamp(40.0, 10_040_000_000) is not None
    assert clock.stamp(80.0, 15_000_000_000) is None   # 5 s late: not this frame's pts
    assert clock.offset_ns is None


def test_pts_pipe_pairs_lines_from_the_header_of_the_run_and_skips_measured_frames():
    pipe = PtsPipe()
    try:
        fd = os.open(pipe.path, os.O_WRONLY)
        os.write(fd, b'7.000\n' + PTS_HEADER.encode() + b'\n0.000\n40.000\n80.000\n')
        pipe.new_run()
        pipe.skip(1)
        assert pipe.next_pts(0.5) == 40.0
        assert pipe.next_pts(0.5) == 80.0
        assert pipe.next_pts(0.05) is None
        os.close(fd)
    finally:
        pipe.close()
    assert not os.path.exists(pipe.path)


def capture(source, frames):
    stamps, sequences = [], []
    with source:
        for _ in range(frames):
            frame = source.read(5.0)
            stamps.append(frame.stamp_ns)
            sequences.append(frame.sequence)
    return stamps, sequences


def test_sensor_stamps_of_a_jittery_pipe_keep_the_sensor_spacing(tmp_path, monkeypatch):
    fake_rpicam_vid.install_on_path(tmp_path, monkeypatch, jitter_ms=15)
    config = RpicamConfig(width=64, height=48, fps=25.0)
    sensor_source = RpicamSource(config)
    sensor = interval_errors_ms(*capture(sensor_source, 125))[25:]
    read_source = RpicamSource(RpicamConfig(width=64, height=48, fps=25.0,
                                            sensor_timestamps=False))
    read = interval_errors_ms(*capture(read_source, 125))[25:]
    print(f'interval jitter (std): sensor {sensor.std():.3f} ms, read time {read.std():.3f} ms')
    assert sensor_source.sensor_stamps >= 100 and read_source.sensor_stamps == 0
    assert sensor.std() < 1.0
    assert read.std() > 3 * sensor.std()


def test_a_camera_without_pts_falls_back_to_read_time_with_a_warning(
        tmp_path, monkeypatch):
    install_fake_rpicam(tmp_path, monkeypatch)   # accepts --save-pts, writes none
    source = RpicamSource(RpicamConfig(width=64, height=48, fps=30.0))
    with records_of('picam_ros.sources.rpicam', logging.WARNING) as records:
        stamps, _ = capture(source, 10)
    assert source.read_stamps >= 10 and source.sensor_stamps == 0
    assert np.all(np.diff(stamps) > 0)
    assert any('read time' in record.getMessage() for record in records)


def test_stamps_stay_sensor_based_and_increasing_across_a_live_control_change(
        tmp_path, monkeypatch):
    fake_rpicam_vid.install_on_path(tmp_path, monkeypatch, jitter_ms=5)
    source = RpicamSource(RpicamConfig(width=64, height=48, fps=25.0))
    stamps = []
    with source:
        for number in range(60):
            if number == 20:
                source.set_controls(RpicamControls(shutter=4000))
            stamps.append(source.read(5.0).stamp_ns)
    assert source.control_changes == 1
    assert np.all(np.diff(stamps) > 0)
    assert source.read_stamps == 0 and source.sensor_stamps >= 60
