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

"""The operator's view: our frames, through the real MediaMTX, decoded by headless Chromium.

A synthetic camera stamps its sequence number into every frame; the page (WebRTC/WHEP,
requestVideoFrameCallback + canvas) reads it back, so the test knows that the browser shows our
frames, in order, and not something else. A screenshot lands in build/test-artifacts/.
"""

import contextlib
import json
import os
import signal
import threading
import time

from browser_viewer import BrowserViewer, LOOPBACK_ICE_ENV, require_browser
from proctree import wait_until
import pytest
from stream_fixtures import free_server_ports, REPO, require_mediamtx

from picam_ros.sources import SourceStopped
from picam_ros.sources.synthetic import SyntheticConfig, SyntheticSource
from picam_ros.stream.encoder import StreamConfig, StreamPublisher
from picam_ros.stream.mediamtx import MediaServer, MediaServerConfig

pytestmark = [pytest.mark.mediamtx, pytest.mark.browser]

GUARD = 30.0
ARTIFACTS = REPO / 'build' / 'test-artifacts'
SCREENSHOT = ARTIFACTS / 'browser_stream.png'


class SyntheticCamera:
    """The synthetic source at its own pace, every frame submitted to the publisher."""

    def __init__(self, source: SyntheticSource, pub: StreamPublisher) -> None:
        self.source, self.pub = source, pub
        self.sequences: list[int] = []
        self.captured_ns: dict[int, int] = {}
        self.mono_ns: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> 'SyntheticCamera':  # noqa: PYI034 - typing.Self needs 3.11
        self.source.start()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.source.stop()
        self._thread.join(timeout=GUARD)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                frame = self.source.read(timeout=1.0)
            except SourceStopped:
                return
            self.sequences.append(frame.sequence)
            self.captured_ns[frame.sequence] = frame.stamp_ns
            self.mono_ns.append(frame.mono_ns)
            self.pub.submit(frame)


@contextlib.contextmanager
def running_stack(monkeypatch, width: int = 640, height: int = 480, scale: int = 1):
    """Run MediaMTX (own ports, loopback ICE), a publisher + synthetic camera at 25 fps."""
    for name, value in LOOPBACK_ICE_ENV.items():
        monkeypatch.setenv(name, value)
    config = MediaServerConfig(mediamtx_path=require_mediamtx(), **free_server_ports())
    source = SyntheticSource(SyntheticConfig(width=width, height=height, fps=25.0))
    stream = StreamConfig(rtsp_port=config.rtsp_port, path='cam', fps=25.0, scale=scale,
                          backoff_initial=0.1, stall_timeout=1.0)
    with MediaServer(config) as server, StreamPublisher(stream, source.format) as pub, \
            SyntheticCamera(source, pub) as camera:
        assert wait_until(lambda: pub.stats.connected, GUARD), pub.stats
        yield Stack(config, server, pub, camera)


@pytest.fixture
def stack(monkeypatch):
    """Run the 640x480@25 stack most tests watch."""
    with running_stack(monkeypatch) as running:
        yield running


class Stack:
    """The running server, publisher and camera of one test."""

    def __init__(self, config: MediaServerConfig, server: MediaServer, pub: StreamPublisher,
                 camera: SyntheticCamera) -> None:
        self.config, self.server, self.pub, self.camera = config, server, pub, camera


@pytest.fixture
def viewer():
    with BrowserViewer(require_browser()) as browser:
        yield browser


def test_browser_shows_our_frames_in_order(stack, viewer):
    config, camera = stack.config, stack.camera
    viewer.open(config.webrtc_port, 'cam')
    seen: list[tuple[int, float]] = []
    assert wait_until(lambda: len(seen.extend(viewer.drain()) or seen) >= 50, GUARD), (
        viewer.state())
    viewer.screenshot(SCREENSHOT)
    state = viewer.state()
    sequences = [s for s, _ in seen]
    produced = set(camera.sequences)
    assert (state['width'], state['height']) == (640, 480)
    assert all(s in produced for s in sequences), sorted(set(sequences) - produced)[:5]
    assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)
    assert sequences[-1] - sequences[0] >= 49
    presented = [t for _, t in seen]
    assert presented == sorted(presented)


def test_a_1920x1920_capture_plays_in_the_browser_at_full_size(monkeypatch, viewer):
    with running_stack(monkeypatch, 1920, 1920) as running:
        viewer.open(running.config.webrtc_port, 'cam')
        seen: list[tuple[int, float]] = []
        assert wait_until(lambda: len(seen.extend(viewer.drain()) or seen) >= 25, GUARD), (
            viewer.state())
        state, produced = viewer.state(), set(running.camera.sequences)
    sequences = [s for s, _ in seen]
    assert (state['width'], state['height']) == (1920, 1920)
    assert set(sequences) <= produced
    assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)


def test_a_1920x1920_capture_streamed_at_half_size_plays_at_960x960(monkeypatch, viewer):
    with running_stack(monkeypatch, 1920, 1920, scale=2) as running:
        viewer.open(running.config.webrtc_port, 'cam')
        presented: list[tuple[int, float]] = []
        # The stamp's 16-pixel blocks are 8 pixels wide at half size: frames are counted as
        # presented whether the page can read their stamp or not.
        assert wait_until(lambda: len(presented.extend(viewer.drain()) or presented)
                          + viewer.state()['unreadable'] >= 25, GUARD), viewer.state()
        state = viewer.state()
    assert (state['width'], state['height']) == (960, 960)
    assert state['errors'] == []


def test_every_frame_the_publisher_sends_is_decoded_in_the_page(stack, viewer):
    # "Lost at the page" means sent and never decoded there; whether headless Chromium's
    # compositor then shows every decoded frame is its own business (no display here).
    config, camera, pub = stack.config, stack.camera, stack.pub
    viewer.open(config.webrtc_port, 'cam', decoded=True)
    assert wait_until(lambda: len(viewer.drain_decoded()) > 0, GUARD), viewer.state()
    decoded: set[int] = set()
    first, dropped = len(camera.sequences), pub.stats.dropped
    assert wait_until(lambda: len(camera.sequences) - first >= 100, GUARD)
    window = camera.sequences[first:first + 100]
    dropped = pub.stats.dropped - dropped

    def missing() -> list[int]:
        return [s for s in window if s not in decoded]

    def all_arrived() -> bool:
        decoded.update(s for s, _ in viewer.drain_decoded())
        return len(missing()) <= dropped

    assert wait_until(all_arrived, GUARD), (
        f'{len(missing())} of {len(window)} frames never decoded (publisher dropped '
        f'{dropped}); first missing {missing()[:5]}; {viewer.receiver_stats()}')
    assert window == sorted(window)


def first_frame_after(viewer: BrowserViewer, camera: SyntheticCamera, fault_ns: int) -> float:
    """Wait until the page presents a frame captured after ``fault_ns``; return the delay, s."""
    offset_ms = viewer.clock_offset_ms()
    found: list[float] = []

    def fresh_frame() -> bool:
        for sequence, presented_ms in viewer.drain():
            if camera.captured_ns.get(sequence, 0) > fault_ns:
                found.append((presented_ms - offset_ms) / 1e3 - fault_ns / 1e9)
                return True
        return False

    assert wait_until(fresh_frame, GUARD, interval=0.02), viewer.state()
    return found[0]


def record(name: str, seconds: float, camera: SyntheticCamera, since: int) -> None:
    """Print the measurement and keep it in build/test-artifacts/browser_faults.json."""
    gaps = [b - a for a, b in zip(camera.mono_ns[since:], camera.mono_ns[since + 1:])]
    line = {'fault': name, 'first_frame_s': round(seconds, 3),
            'camera_max_gap_ms': round(max(gaps) / 1e6, 1) if gaps else None}
    print(json.dumps(line))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with open(ARTIFACTS / 'browser_faults.json', 'a') as f:
        f.write(json.dumps(line) + '\n')


def watching(viewer: BrowserViewer, stack: Stack) -> None:
    viewer.open(stack.config.webrtc_port, 'cam')
    seen: list[tuple[int, float]] = []
    assert wait_until(lambda: len(seen.extend(viewer.drain()) or seen) > 10, GUARD), (
        viewer.state())


@pytest.mark.parametrize('fault', ['kill -9 mediamtx', 'kill -9 encoder', 'SIGSTOP encoder'])
def test_page_plays_again_after_a_fault_and_the_camera_never_stops(stack, viewer, fault):
    watching(viewer, stack)
    since = len(stack.camera.mono_ns)
    fault_ns = time.time_ns()
    if fault == 'kill -9 mediamtx':
        os.kill(stack.server.pid, signal.SIGKILL)
    elif fault == 'kill -9 encoder':
        os.kill(stack.pub.encoder_pid, signal.SIGKILL)
    else:
        os.kill(stack.pub.encoder_pid, signal.SIGSTOP)   # the publisher kills it when stalled
    seconds = first_frame_after(viewer, stack.camera, fault_ns)
    record(fault, seconds, stack.camera, since)
    assert stack.pub.stats.restarts >= 1
    if fault == 'kill -9 mediamtx':
        assert stack.server.restarts == 1 and stack.server.ready
    frames_meanwhile = len(stack.camera.mono_ns) - since
    assert frames_meanwhile >= 25 * seconds * 0.5, (frames_meanwhile, seconds)
