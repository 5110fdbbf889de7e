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

"""CameraRuntime: capture thread, fan-out to sinks, stats, clean stop; FrameThrottle."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
import itertools
import threading
import time

import pytest

from picam_ros.camera.runtime import CameraRuntime, RuntimeConfig, StreamState
from picam_ros.core.frames import Frame, FrameFormat
from picam_ros.core.pacing import FrameThrottle

FORMAT = FrameFormat(64, 48, 'i420')
GUARD_S = 10.0   # failure guard only: every wait below normally ends in milliseconds


class ScriptedSource:
    """A FrameSource that serves scripted sequence numbers, then blocks until stopped.

    With ``ages_ns``, frame i is stamped ``ages_ns[i]`` before the moment the source started, so
    frame-rate arithmetic can be checked exactly; otherwise frames are stamped when read.
    """

    def __init__(self, sequences: Sequence[int], fail_with: Exception | None = None,
                 ages_ns: list[int] | None = None) -> None:
        self.format = FORMAT
        self._sequences = sequences   # a range stays lazy: range(10**7) costs nothing
        self._fail_with = fail_with
        self._ages_ns = ages_ns
        self._frame = Frame(FORMAT)
        self._stopped = threading.Event()
        self.started = self.stopped = 0
        self.reads = 0

    def start(self) -> None:
        self.started += 1
        self._stopped.clear()
        self._index = 0
        self._start_ns = time.monotonic_ns()

    def read(self, timeout: float | None = None) -> Frame:
        self.reads += 1
        if self._index < len(self._sequences):
            frame = self._frame
            frame.sequence = self._sequences[self._index]
            frame.stamp_ns = time.time_ns()
            frame.mono_ns = (self._start_ns - self._ages_ns[self._index]
                             if self._ages_ns else time.monotonic_ns())
            self._index += 1
            return frame
        if self._fail_with is not None:
            raise self._fail_with
        if self._stopped.wait(timeout):
            raise RuntimeError('source stopped')
        raise TimeoutError('no frame')

    def stop(self) -> None:
        self.stopped += 1
        self._stopped.set()


class Recorder:
    """A sink that records sequence numbers and signals when it has seen ``count`` frames."""

    def __init__(self, count: int) -> None:
        self.sequences: list[int] = []
        self._count = count
        self.done = threading.Event()

    def __call__(self, frame: Frame) -> None:
        self.sequences.append(frame.sequence)
        if len(self.sequences) >= self._count:
            self.done.set()


def _run_until(runtime: CameraRuntime, recorder: Recorder) -> None:
    runtime.start()
    try:
        assert recorder.done.wait(GUARD_S), 'frames did not arrive'
    finally:
        runtime.stop()


def test_every_frame_reaches_every_sink_in_order():
    first, second = Recorder(20), Recorder(20)
    runtime = CameraRuntime(ScriptedSource(range(20)))
    runtime.add_sink(first)
    runtime.add_sink(second)
    _run_until(runtime, second)
    assert first.sequences == second.sequences == list(range(20))
    assert runtime.stats().frames == 20


def test_sequence_gaps_are_counted_as_drops():
    recorder = Recorder(6)
    runtime = CameraRuntime(ScriptedSource([0, 1, 2, 5, 6, 10]))
    runtime.add_sink(recorder)
    _run_until(runtime, recorder)
    assert runtime.stats().drops == 2 + 3


def test_sequence_restarting_from_zero_is_not_a_drop():
    recorder = Recorder(5)
    runtime = CameraRuntime(ScriptedSource([7, 8, 9, 0, 1]))
    runtime.add_sink(recorder)
    _run_until(runtime, recorder)
    assert runtime.stats().drops == 0


def test_frame_rate_is_measured_from_capture_times():
    # 21 frames 40 ms apart, the last one just now: 25 fps.
    ages = [(20 - i) * 40_000_000 for i in range(21)]
    recorder = Recorder(21)
    runtime = CameraRuntime(ScriptedSource(range(21), ages_ns=ages),
                            config=RuntimeConfig(fps_window=2.0))
    runtime.add_sink(recorder)
    _run_until(runtime, recorder)
    assert runtime.stats().fps == pytest.approx(25.0, rel=1e-9)


def test_frame_rate_only_counts_frames_inside_the_window():
    # A 1 kHz burst 5 s ago, then 10 frames 100 ms apart: the 1.5 s window sees 10 fps.
    ms = 1_000_000
    ages = [5000 * ms - i * ms for i in range(200)] + [(9 - i) * 100 * ms for i in range(10)]
    recorder = Recorder(len(ages))
    runtime = CameraRuntime(ScriptedSource(range(len(ages)), ages_ns=ages),
                            config=RuntimeConfig(fps_window=1.5))
    runtime.add_sink(recorder)
    _run_until(runtime, recorder)
    assert runtime.stats().fps == pytest.approx(10.0, rel=1e-9)


def test_failing_sink_is_counted_and_does_not_starve_the_others():
    def broken(frame: Frame) -> None:
        raise ValueError('bad sink')

    errors: list[str] = []

    class Log:
        def info(self, message: str) -> None:
            pass

        def warning(self, message: str) -> None:
            pass

        def error(self, message: str) -> None:
            errors.append(message)

    recorder = Recorder(10)
    runtime = CameraRuntime(ScriptedSource(range(10)), log=Log())
    runtime.add_sink(broken, 'broken')
    runtime.add_sink(recorder)
    _run_until(runtime, recorder)
    assert recorder.sequences == list(range(10))
    assert runtime.stats().sink_errors == 10
    assert len(errors) == 1 and "'broken'" in errors[0] and 'bad sink' in errors[0]


def test_removed_sink_gets_no_more_frames():
    recorder, kept = Recorder(1), Recorder(5)
    runtime = CameraRuntime(ScriptedSource(range(5)))
    runtime.add_sink(recorder)
    runtime.remove_sink(recorder)
    runtime.add_sink(kept)
    _run_until(runtime, kept)
    assert recorder.sequences == [] and kept.sequences == list(range(5))


def test_unrecoverable_source_error_stops_capture_and_is_reported():
    reported: list[str] = []
    failed = threading.Event()

    def on_error(message: str) -> None:
        reported.append(message)
        failed.set()

    runtime = CameraRuntime(ScriptedSource(range(3), fail_with=OSError('camera unplugged')),
                            on_capture_error=on_error)
    runtime.start()
    try:
        assert failed.wait(GUARD_S)
        stats = runtime.stats()
        assert not stats.running
        assert stats.frames == 3
        assert 'camera unplugged' in stats.capture_error
        assert reported == [stats.capture_error]
    finally:
        runtime.stop()


def test_read_timeouts_only_recheck_stop_and_capture_goes_on():
    source = ScriptedSource([])
    runtime = CameraRuntime(source, config=RuntimeConfig(read_timeout=0.01))
    runtime.start()
    try:
        deadline = time.monotonic() + GUARD_S
        while source.reads < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert source.reads >= 3
        assert runtime.stats().running and runtime.stats().capture_error is None
    finally:
        runtime.stop()


def test_stop_ends_a_read_blocked_waiting_for_a_frame_and_joins_the_thread():
    source = ScriptedSource([])
    runtime = CameraRuntime(source, config=RuntimeConfig(read_timeout=GUARD_S * 10))
    runtime.start()
    runtime.stop()   # would hang for the read timeout if stop did not unblock the read
    assert source.stopped == 1
    assert not any(t.name == 'picam-capture' for t in threading.enumerate())
    assert runtime.stats().capture_error is None   # a stop is not a failure


def test_stop_is_idempotent_and_the_runtime_can_start_again():
    source = ScriptedSource(range(3))
    recorder = Recorder(3)
    runtime = CameraRuntime(source)
    runtime.add_sink(recorder)
    _run_until(runtime, recorder)
    runtime.stop()
    again = Recorder(3)
    runtime.add_sink(again)
    _run_until(runtime, again)
    assert source.started == 2
    assert again.sequences == [0, 1, 2]


def test_source_start_failure_propagates_and_leaves_nothing_running():
    class Unstartable(ScriptedSource):
        def start(self) -> None:
            raise FileNotFoundError('rpicam-vid not found')

    runtime = CameraRuntime(Unstartable([]))
    with pytest.raises(FileNotFoundError, match='rpicam-vid'):
        runtime.start()
    assert not runtime.running
    assert not any(t.name == 'picam-capture' for t in threading.enumerate())


def test_without_a_stream_the_stream_state_is_disabled():
    runtime = CameraRuntime(ScriptedSource([]))
    stats = runtime.stats()
    assert stats.stream_state is StreamState.DISABLED and stats.server_ready is None


def test_a_server_without_a_stream_is_rejected():
    with pytest.raises(ValueError, match='media server without a stream'):
        CameraRuntime(ScriptedSource([]), server=object())


@pytest.mark.parametrize('field, value', [('read_timeout', 0), ('fps_window', -1.0)])
def test_runtime_config_rejects_non_positive_durations(field, value):
    with pytest.raises(ValueError, match=field):
        RuntimeConfig(**{field: value})


# -- FrameThrottle ----------------------------------------------------------------------------

def _accepted(throttle: FrameThrottle, stamps_ns: Iterable[int]) -> list[int]:
    return [t for t in stamps_ns if throttle.accept(t)]


def test_throttle_keeps_the_requested_rate_despite_capture_jitter():
    # 25 fps for 10 s with +-3 ms jitter around the nominal 40 ms period -> exactly 5 Hz.
    jitter = [(-3, 2, 0, 3, -1)[i % 5] * 1_000_000 for i in range(250)]
    stamps = [i * 40_000_000 + jitter[i] + 1_000_000_000 for i in range(250)]
    accepted = _accepted(FrameThrottle(5.0), stamps)
    assert len(accepted) == 50
    gaps = [b - a for a, b in itertools.pairwise(accepted)]
    assert min(gaps) >= 160_000_000 and max(gaps) <= 240_000_000


def test_throttle_at_the_camera_rate_passes_every_jittered_frame():
    # 25 fps with +-3 ms jitter, throttled to 25 Hz: an early frame still takes its slot.
    jitter = [(-3, 2, 0, 3, -1)[i % 5] * 1_000_000 for i in range(250)]
    stamps = [i * 40_000_000 + jitter[i] + 1_000_000_000 for i in range(250)]
    assert _accepted(FrameThrottle(25.0), stamps) == stamps


def test_throttle_below_the_camera_rate_never_exceeds_its_rate():
    # 30 fps for 10 s throttled to 25 Hz: 250 frames, not the 300 an early slack could let by.
    stamps = [round(i * 1e9 / 30) for i in range(300)]
    accepted = _accepted(FrameThrottle(25.0), stamps)
    assert 249 <= len(accepted) <= 250


def test_throttle_faster_than_the_camera_passes_every_frame():
    stamps = [i * 40_000_000 for i in range(100)]
    assert _accepted(FrameThrottle(100.0), stamps) == stamps


def test_throttle_zero_passes_nothing():
    throttle = FrameThrottle(0.0)
    assert not throttle.enabled
    assert _accepted(throttle, range(0, 10**9, 10**7)) == []


def test_throttle_restarts_its_schedule_after_a_gap():
    throttle = FrameThrottle(5.0)
    assert throttle.accept(0)
    assert throttle.accept(10 * 10**9)                # 10 s gap: accepted at once
    assert not throttle.accept(10 * 10**9 + 100_000_000)
    assert throttle.accept(10 * 10**9 + 200_000_000)  # schedule follows the new start


def test_throttle_rejects_a_negative_rate():
    with pytest.raises(ValueError, match='throttle rate'):
        FrameThrottle(-1.0)


def test_a_failing_stream_is_cut_off_and_capture_goes_on():
    class BrokenStream:
        def __init__(self) -> None:
            self.submitted = 0

        def start(self) -> None:
            pass

        def submit(self, frame: Frame) -> bool:
            self.submitted += 1
            raise BrokenPipeError('encoder pipe closed')

        def stop(self) -> None:
            pass

    stream = BrokenStream()
    runtime = CameraRuntime(ScriptedSource(range(10**7)), stream=stream)
    runtime.start()
    try:
        assert _wait_for_stream_state(runtime, StreamState.FAILED)
        frames_at_failure = runtime.stats().frames
        deadline = time.monotonic() + GUARD_S
        while runtime.stats().frames < frames_at_failure + 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert runtime.stats().frames >= frames_at_failure + 10, 'capture must go on'
        assert stream.submitted == 1   # cut off after the first failure
        assert 'encoder pipe closed' in runtime.stats().stream_error
    finally:
        runtime.stop()


def _wait_for_stream_state(runtime: CameraRuntime, state: StreamState) -> bool:
    deadline = time.monotonic() + GUARD_S
    while runtime.stats().stream_state is not state and time.monotonic() < deadline:
        time.sleep(0.01)
    return runtime.stats().stream_state is state


def test_a_stream_that_cannot_start_is_reported_and_capture_goes_on():
    class Unstartable:
        def start(self) -> None:
            raise OSError('ffmpeg not found')

        def submit(self, frame: Frame) -> bool:
            raise AssertionError('never started, never fed')

        def stop(self) -> None:
            pass

    source = ScriptedSource(range(5))
    recorder = Recorder(5)
    runtime = CameraRuntime(source, stream=Unstartable())
    runtime.add_sink(recorder)
    runtime.start()
    try:
        assert recorder.done.wait(GUARD_S)
        assert _wait_for_stream_state(runtime, StreamState.FAILED)
        assert 'ffmpeg not found' in runtime.stats().stream_error
    finally:
        runtime.stop()
