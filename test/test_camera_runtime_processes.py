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

"""CameraRuntime with real sources, a real encoder and real child processes."""

from __future__ import annotations

import os
from pathlib import Path
import signal
import subprocess
import sys
import textwrap
import threading

from proctree import descendants, process_gone, wait_until
import pytest
from stream_fixtures import free_tcp_port, RtspReceiver

from picam_ros.camera.runtime import CameraRuntime, StreamState
from picam_ros.camera.settings import build_runtime
from picam_ros.core.frames import Frame
from picam_ros.sources import SourceConfig
from picam_ros.sources.synthetic import decode_sequence
from picam_ros.stream.encoder import StreamConfig
from picam_ros.stream.mediamtx import MediaServerConfig

GUARD_S = 20.0   # failure guard only
SYNTHETIC = SourceConfig(source='synthetic', width=256, height=128, fps=50.0)
LAVFI = SourceConfig(source='ffmpeg', input='lavfi:testsrc2=size=64x48:rate=50', width=64,
                     height=48, fps=50.0)


class Collector:
    """A sink keeping (sequence, stamped sequence, stamp) of the first ``count`` frames."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.seen: list[tuple[int, int, int]] = []
        self.done = threading.Event()

    def __call__(self, frame: Frame) -> None:
        if len(self.seen) < self.count:
            self.seen.append((frame.sequence, decode_sequence(frame.y), frame.stamp_ns))
            if len(self.seen) == self.count:
                self.done.set()


class Counter:
    """A sink that signals once it has seen ``count`` frames."""

    def __init__(self, count: int) -> None:
        self.count, self.frames = count, 0
        self.done = threading.Event()

    def __call__(self, frame: Frame) -> None:
        self.frames += 1
        if self.frames >= self.count:
            self.done.set()


def counting_lavfi_runtime(runtimes: list) -> tuple:
    """Start an ffmpeg-source runtime and wait for 5 frames: (runtime, counter, prior children)."""
    before = descendants(os.getpid())
    runtime = build_runtime(LAVFI)
    runtimes.append(runtime)
    counter = Counter(5)
    runtime.add_sink(counter)
    runtime.start()
    assert counter.done.wait(GUARD_S)
    return runtime, counter, before


class ErrorLog:
    """A runtime logger that keeps error messages."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def info(self, message: str) -> None:
        pass

    warning = info

    def error(self, message: str) -> None:
        self.errors.append(message)


@pytest.fixture
def runtimes():
    """Runtimes built by a test, stopped even when it fails."""
    made: list[CameraRuntime] = []
    yield made
    for runtime in made:
        runtime.stop()


def test_synthetic_frames_reach_sinks_with_their_own_pixels_and_capture_stamps(runtimes):
    runtime = build_runtime(SYNTHETIC)
    runtimes.append(runtime)
    collector = Collector(10)
    runtime.add_sink(collector)
    runtime.start()
    assert collector.done.wait(GUARD_S)
    sequences = [seq for seq, _, _ in collector.seen]
    assert sequences == sorted(sequences) and len(set(sequences)) == 10
    # The sink sees the frame the sequence number belongs to, not a reused neighbour.
    assert all(seq == stamped for seq, stamped, _ in collector.seen)
    stamps = [stamp for _, _, stamp in collector.seen]
    assert stamps == sorted(stamps) and stamps[0] > 0
    stats = runtime.stats()
    assert stats.running and stats.frames >= 10 and stats.capture_error is None


def test_ffmpeg_source_child_runs_during_capture_and_is_gone_after_stop(runtimes):
    runtime, _, before = counting_lavfi_runtime(runtimes)
    assert descendants(os.getpid()) - before, 'the ffmpeg source should be a child'
    runtime.stop()
    assert descendants(os.getpid()) - before == set()


def test_missing_media_server_disables_only_the_stream(runtimes):
    before = descendants(os.getpid())
    port = free_tcp_port()
    log = ErrorLog()
    runtime = build_runtime(
        SYNTHETIC, stream=StreamConfig(rtsp_port=port, fps=SYNTHETIC.fps),
        server=MediaServerConfig(mediamtx_path='/nonexistent/mediamtx', rtsp_port=port,
                                 webrtc_port=free_tcp_port()), log=log)
    runtimes.append(runtime)
    collector = Collector(5)
    runtime.add_sink(collector)
    runtime.start()
    assert wait_until(lambda: runtime.stats().stream_state is StreamState.UNAVAILABLE, GUARD_S)
    assert collector.done.wait(GUARD_S), 'frames must keep flowing without a stream'
    stats = runtime.stats()
    assert 'MediaMTX not found' in stats.stream_error
    assert stats.server_ready is False and stats.stream_sent == 0
    assert len(log.errors) == 1 and 'camera keeps publishing' in log.errors[0]
    runtime.stop()
    assert runtime.stats().stream_state is StreamState.STOPPED
    assert descendants(os.getpid()) - before == set()


def test_stream_branch_encodes_captured_frames_and_stops_cleanly(runtimes):
    before = descendants(os.getpid())
    port = free_tcp_port()
    with RtspReceiver(port, 'cam', SYNTHETIC.width, SYNTHETIC.height) as receiver:
        runtime = build_runtime(SYNTHETIC, stream=StreamConfig(rtsp_port=port, path='cam',
                                                               fps=SYNTHETIC.fps))
        runtimes.append(runtime)
        runtime.start()
        assert wait_until(lambda: len(receiver.counters) >= 10, GUARD_S), \
            f'receiver decoded {len(receiver.counters)} frames; {runtime.stats()}'
        stats = runtime.stats()
        assert stats.stream_state is StreamState.RUNNING and stats.stream_connected
        assert stats.stream_sent >= 10 and stats.server_ready is None
        runtime.stop()
    assert descendants(os.getpid()) - before == set()


_ORPHAN_SCRIPT = textwrap.dedent("""
    import os, sys, threading
    sys.path.append(sys.argv[1])   # after PYTHONPATH: the built copy wins
    from picam_ros.camera.settings import build_runtime
    from picam_ros.sources import SourceConfig
    from picam_ros.stream.encoder import StreamConfig
    config = SourceConfig(source='ffmpeg', input='lavfi:testsrc2=size=256x128:rate=50',
                          width=256, height=128, fps=50.0)
    runtime = build_runtime(config, stream=StreamConfig(rtsp_port=int(sys.argv[2]), fps=50.0))
    got = threading.Event()
    runtime.add_sink(lambda frame: got.set())
    runtime.start()
    got.wait(20)
    print('ready', flush=True)
    threading.Event().wait()
""")


def test_parent_killed_with_sigkill_leaves_no_child_behind():
    port = free_tcp_port()
    with RtspReceiver(port, 'cam', 256, 128) as receiver:
        parent = subprocess.Popen(
            [sys.executable, '-c', _ORPHAN_SCRIPT, str(Path(__file__).parents[1]), str(port)],
            stdout=subprocess.PIPE, text=True)
        try:
            assert parent.stdout.readline().strip() == 'ready'
            # Source ffmpeg and, once the receiver listens, the encoder ffmpeg.
            assert wait_until(lambda: len(descendants(parent.pid)) >= 2, GUARD_S)
            assert wait_until(lambda: len(receiver.counters) >= 1, GUARD_S)
            children = descendants(parent.pid)
        finally:
            parent.send_signal(signal.SIGKILL)
            parent.wait()
        assert wait_until(lambda: all(process_gone(pid) for pid in children), GUARD_S), \
            f'orphans: {[pid for pid in children if not process_gone(pid)]}'


def test_killed_source_child_is_restarted_and_the_runtime_reports_it(runtimes):
    runtime, counter, before = counting_lavfi_runtime(runtimes)
    [child] = descendants(os.getpid()) - before
    os.kill(child, signal.SIGKILL)
    assert wait_until(lambda: runtime.stats().source_restarts >= 1, GUARD_S)
    frames = counter.frames
    assert wait_until(lambda: counter.frames >= frames + 5, GUARD_S), 'frames flow again'
    stats = runtime.stats()
    assert stats.running and stats.capture_error is None and stats.source_error


def test_a_slow_sink_turns_into_counted_drops_not_a_backlog(runtimes):
    # 100 fps source, a sink that needs ~4 frame periods: the source hands out the newest
    # frame, so skipped ones show up as sequence gaps, and every sequence number is accounted
    # for exactly once (delivered or dropped).
    fast = SourceConfig(source='ffmpeg', input='lavfi:testsrc2=size=64x48:rate=100', width=64,
                        height=48, fps=100.0)
    runtime = build_runtime(fast)
    runtimes.append(runtime)
    sequences: list[int] = []
    enough = threading.Event()

    def slow(frame: Frame) -> None:
        sequences.append(frame.sequence)
        enough.wait(0.04)   # stands in for a sink that takes 40 ms per frame
        if len(sequences) >= 15:
            enough.set()

    runtime.add_sink(slow)
    runtime.start()
    assert enough.wait(GUARD_S)
    runtime.stop()
    stats = runtime.stats()
    assert stats.drops > 0
    assert stats.frames == len(sequences)
    assert stats.frames + stats.drops == sequences[-1] - sequences[0] + 1
