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

"""The in-process centroid worker, without ROS: capture hands frames over, never waits for them.

Frames come from the synthetic source (exact ground truth); the capture side is this test's
thread calling ``offer`` as the camera runtime's sink would.
"""

import threading

import numpy as np
import pytest

from picam_ros.centroids.engine import KeyingParams
from picam_ros.centroids.pipeline import CentroidPipeline
from picam_ros.centroids.settings import KeyingProfiles
from picam_ros.centroids.worker import CentroidWorker, rate_decimation
from picam_ros.core.pacing import DecimationConfig
from picam_ros.sources.synthetic import SyntheticConfig, SyntheticSource

WIDTH, HEIGHT = 320, 240
GUARD_S = 10.0   # failure guard only
PERIOD_NS = 40_000_000   # 25 fps


@pytest.fixture(scope='module')
def source():
    return SyntheticSource(SyntheticConfig(width=WIDTH, height=HEIGHT, paced=False, seed=5))


def pipeline_for(decimation=None, keying=None):
    profiles = KeyingProfiles(['pads'])
    settings = profiles.build({})
    settings.update(keying or {})
    return CentroidPipeline(profiles, settings, decimation)


class Results:
    """Collects what the worker hands on; optionally holds the worker until released."""

    def __init__(self, hold: bool = False):
        self.items = []
        self.cond = threading.Condition()
        self.gate = threading.Event()
        self.entered = threading.Event()   # set once the worker is inside the callback
        if not hold:
            self.gate.set()

    def __call__(self, frame, planes, results):
        before = frame.data.copy()
        self.entered.set()
        self.gate.wait(GUARD_S)
        with self.cond:
            self.items.append((frame.sequence, before, frame.data.copy(), results))
            self.cond.notify_all()

    def wait_for(self, count):
        with self.cond:
            return self.cond.wait_for(lambda: len(self.items) >= count, GUARD_S)


def frame_at(source, sequence):
    frame = source.render(sequence)
    frame.mono_ns = sequence * PERIOD_NS
    return frame


def test_worker_results_equal_the_ground_truth_of_the_frame_it_was_given(source):
    results = Results()
    worker = CentroidWorker(pipeline_for(), source.format, results)
    worker.start()
    try:
        for sequence in range(3):
            assert worker.offer(frame_at(source, sequence))
            assert results.wait_for(sequence + 1)
    finally:
        assert worker.stop()
    for sequence, _, _, (result,) in results.items:
        truth = source.ground_truth(sequence)
        assert result.blobs.shape[0] == truth.shape[0] >= 10
        np.testing.assert_array_equal(result.blobs['area'], truth['area'])
        assert np.abs(result.blobs['x'] - truth['x']).max() < 1e-6
        assert np.abs(result.blobs['y'] - truth['y']).max() < 1e-6


def test_capture_never_waits_for_a_busy_worker_and_the_newest_frame_wins(source):
    results = Results(hold=True)
    worker = CentroidWorker(pipeline_for(), source.format, results)
    worker.start()
    try:
        assert worker.offer(frame_at(source, 0))
        assert results.entered.wait(GUARD_S)
        # The worker is stuck publishing frame 0; capture goes on regardless.
        for sequence in range(1, 20):
            assert worker.offer(frame_at(source, sequence))
        assert worker.overwritten == 18   # 1..18 replaced, 19 waits
        results.gate.set()
        assert results.wait_for(2)
    finally:
        assert worker.stop()
    assert [item[0] for item in results.items] == [0, 19]


def test_a_frame_being_processed_is_not_overwritten_by_later_captures(source):
    results = Results(hold=True)
    worker = CentroidWorker(pipeline_for(), source.format, results)
    worker.start()
    try:
        first = frame_at(source, 1)
        expected = first.data.copy()
        assert worker.offer(first)
        assert results.entered.wait(GUARD_S)
        for sequence in range(2, 8):   # the source refills its two buffers meanwhile
            assert worker.offer(frame_at(source, sequence))
        results.gate.set()
        assert results.wait_for(2)
    finally:
        assert worker.stop()
    (sequence, before, after, _), (newest, *_) = results.items
    assert sequence == 1 and newest == 7 and worker.overwritten == 5
    np.testing.assert_array_equal(before, expected)
    np.testing.assert_array_equal(after, expected)


def test_frames_are_picked_by_capture_time_at_the_configured_rate(source):
    pipeline = pipeline_for(rate_decimation(10.0, 25.0))
    worker = CentroidWorker(pipeline, source.format, Results())
    frame = source.render(0)
    accepted = []
    for sequence in range(250):   # 10 s at 25 fps, with +-3 ms capture jitter
        frame.mono_ns = sequence * PERIOD_NS + (3_000_000 if sequence % 2 else -3_000_000)
        frame.sequence = sequence
        if worker.offer(frame):
            accepted.append(sequence)
    assert len(accepted) == pytest.approx(100, abs=1)
    assert pipeline.decimator.skipped == 250 - len(accepted)


@pytest.mark.parametrize('rate_hz', [0.0, 25.0, 60.0])
def test_no_rate_or_one_at_the_camera_fps_or_above_takes_every_frame(rate_hz):
    assert rate_decimation(rate_hz, 25.0) == DecimationConfig()


def test_a_rate_below_the_camera_fps_is_a_capture_time_limit():
    assert rate_decimation(5.0, 25.0) == DecimationConfig(max_rate_hz=5.0)


def test_a_keying_change_applies_to_the_next_frame_the_worker_takes(source):
    threshold = int(np.median(source.ground_truth(1)['area'])) + 1
    results = Results()
    pipeline = pipeline_for()
    worker = CentroidWorker(pipeline, source.format, results)
    worker.start()
    try:
        worker.offer(frame_at(source, 0))
        assert results.wait_for(1)
        pipeline.set_keying({'pads': KeyingParams(min_area=threshold)})
        worker.offer(frame_at(source, 1))
        assert results.wait_for(2)
    finally:
        worker.stop()
    before, after = results.items[0][3][0].blobs, results.items[1][3][0].blobs
    assert after.shape[0] > 0 and after['area'].min() >= threshold
    assert after.shape[0] < before.shape[0]


def test_a_failing_publisher_is_counted_and_the_worker_goes_on(source):
    calls = []
    reported = []
    second = threading.Event()

    def publish(frame, planes, results):
        calls.append(frame.sequence)
        if frame.sequence == 0:
            raise RuntimeError('publisher destroyed')
        second.set()

    failed = threading.Event()
    worker = CentroidWorker(pipeline_for(), source.format, publish,
                            on_error=lambda message: (reported.append(message), failed.set()))
    worker.start()
    try:
        worker.offer(frame_at(source, 0))
        assert failed.wait(GUARD_S)
        worker.offer(frame_at(source, 1))
        assert second.wait(GUARD_S)
    finally:
        worker.stop()
    stats = worker.report()
    assert calls == [0, 1] and worker.failures == 1
    assert stats.errors == 1 and 'publisher destroyed' in stats.last_error
    assert reported == ['RuntimeError: publisher destroyed']


def test_stop_is_bounded_even_when_the_publisher_hangs(source):
    results = Results(hold=True)
    worker = CentroidWorker(pipeline_for(), source.format, results)
    worker.start()
    worker.offer(frame_at(source, 0))
    assert results.entered.wait(GUARD_S)
    assert not worker.stop(timeout=0.2)   # reported, not waited for forever
    results.gate.set()


def test_stop_ends_the_worker_thread(source):
    worker = CentroidWorker(pipeline_for(), source.format, Results())
    worker.start()
    assert worker.running
    assert worker.stop()
    assert not worker.running
