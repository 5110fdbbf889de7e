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

"""The operator page on the real chain: synthetic camera -> StreamPublisher -> MediaMTX -> WHEP.

Each captured frame goes to the encoder and through the real centroid engine; its centroid set
is pushed to the page with the frame's sequence number and capture stamp. The page must draw,
for every frame it presents, the set of that frame (read from the frame's stamped sequence).
"""

import os
import signal
import threading
import time

from browser_viewer import LOOPBACK_ICE_ENV, playing_page
import pytest
from stream_fixtures import free_server_ports, require_mediamtx

aiohttp = pytest.importorskip('aiohttp', reason='the operator page needs aiohttp')

from picam_ros.centroids.engine import find_centroids_in_frame, KeyingParams  # noqa: E402, I100
from picam_ros.operator_page.server import (  # noqa: E402
    CentroidSet,
    OperatorConfig,
    OperatorServer,
)
from picam_ros.sources.synthetic import SyntheticConfig, SyntheticSource  # noqa: E402
from picam_ros.stream.encoder import StreamConfig, StreamPublisher  # noqa: E402
from picam_ros.stream.mediamtx import MediaServer, MediaServerConfig  # noqa: E402

pytestmark = [pytest.mark.mediamtx, pytest.mark.browser]

GUARD_MS = 30000   # failure guard only
ARTIFACTS = os.environ.get('PICAM_TEST_ARTIFACTS', os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'build', 'test-artifacts'))


class Camera:
    """Synthetic frames at their own pace: each to the encoder and the centroid engine."""

    def __init__(self, source, publisher, operator):
        self.source, self.publisher, self.operator = source, publisher, operator
        self.sequences = []
        self.stamps = {}      # sequence -> capture stamp (ns, wall clock)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.source.start()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.source.stop()
        self._thread.join(10.0)

    def _run(self):
        params = KeyingParams()
        width, height = self.source.format.width, self.source.format.height
        while not self._stop.is_set():
            try:
                frame = self.source.read(timeout=1.0)
            except Exception:  # noqa: BLE001 - stopped under us
                return
            blobs = find_centroids_in_frame(frame, params).blobs
            self.operator.publish_centroids(
                CentroidSet('pads', frame.sequence, frame.stamp_ns, width, height, blobs))
            self.sequences.append(frame.sequence)
            self.stamps[frame.sequence] = frame.stamp_ns
            self.publisher.submit(frame)


@pytest.fixture
def chain(monkeypatch):
    for name, value in LOOPBACK_ICE_ENV.items():
        monkeypatch.setenv(name, value)
    media = MediaServerConfig(mediamtx_path=require_mediamtx(), **free_server_ports())
    source = SyntheticSource(SyntheticConfig(width=640, height=480, fps=25.0))
    stream = StreamConfig(rtsp_port=media.rtsp_port, path='cam', fps=25.0)
    operator = OperatorServer(
        OperatorConfig(port=0, token='t', history=128,
                       whep_url=f'http://{{host}}:{media.webrtc_port}/cam/whep'), _NoBackend())
    operator.start()
    try:
        with MediaServer(media) as server, StreamPublisher(stream, source.format) as publisher, \
                Camera(source, publisher, operator) as camera:
            yield operator, camera, server
    finally:
        operator.stop()


class _NoBackend:
    def handle(self, action):
        raise AssertionError(f'no action expected, got {action}')


def test_over_webrtc_the_page_draws_the_set_of_each_frame_it_shows(chain):
    operator, camera, _ = chain
    with playing_page(operator.url()) as page:
        page.wait_for_function(
            'window.picamOperator && window.picamOperator.syncLog'
            '.filter(e => e.frame !== null).length >= 50', timeout=GUARD_MS)
        log = page.evaluate('window.picamOperator.syncLog')
        ready_ms = page.evaluate('window.picamOperator.readyAt')
        state = page.evaluate('window.picamOperator.streamState')
        page.wait_for_function("document.getElementById('st-latency').textContent !== '-'",
                               timeout=GUARD_MS)
        shown = page.evaluate("""() => [document.getElementById('st-latency').textContent,
            document.getElementById('st-latency-frame').textContent,
            window.picamOperator.syncLog.map(e => [e.frame, e.presentedMs])]""")
    frames = [entry for entry in log if entry['frame'] is not None and not entry.get('late')]
    late = {entry['frame']: entry['delayMs'] for entry in log if entry.get('late')}
    produced = set(camera.sequences)
    assert state == 'connected'
    assert all(entry['frame'] in produced for entry in frames)
    # Never another frame's set; a set that came after its frame is drawn when it arrives.
    wrong = [entry for entry in log if any(seq != entry['frame'] for seq in entry['sets'])]
    waiting = [entry['frame'] for entry in frames if not entry['sets']]
    latency = sorted(entry['latencyMs'] for entry in frames if entry['latencyMs'] is not None)
    delays = ', '.join(f'{late[seq]:.1f}' for seq in waiting if seq in late) or '-'
    print(f'{len(frames)} frames presented over WebRTC; {len(wrong)} drawn with another '
          f"frame's set; {len(waiting)} presented before their set arrived (drawn {delays} ms "
          f'later); capture to presentation p50 {latency[len(latency) // 2]:.1f} ms, max '
          f'{latency[-1]:.1f} ms; first frame drawn {ready_ms:.0f} ms after navigation')
    assert wrong == []
    assert all(seq in late for seq in waiting), (waiting, late)
    # The status bar's latency is the capture -> display of a frame on screen (its capture
    # stamp from the camera, its presentation time from the browser, one host clock).
    text, named, presented = shown
    frame = int(named.removeprefix('frame '))
    at = {seq: ms for seq, ms in presented if seq is not None}
    stamped = at[frame] - camera.stamps[frame] / 1e6
    print(f'status bar: capture->display {text} ms for frame {frame}; stamped {stamped:.1f} ms')
    assert abs(float(text) - stamped) <= 10.0


def test_the_page_plays_again_after_mediamtx_is_killed_and_restarted(chain):
    operator, camera, server = chain
    shown = 'window.picamOperator.syncLog.filter(e => e.frame !== null && !e.late)'
    with playing_page(operator.url()) as page:
        page.wait_for_function(f'{shown}.length >= 10', timeout=GUARD_MS)
        assert page.evaluate('window.picamOperator.whepSessions') == 1
        first_session = page.evaluate('window.picamOperator.whepSession')
        killed_at = camera.sequences[-1]
        killed = time.monotonic()
        killed_ms = page.evaluate('performance.now()')
        os.kill(server.pid, signal.SIGKILL)
        # Frames made after the kill, on the page: only a new WHEP session can bring them.
        after = f'{shown}.filter(e => e.frame > {killed_at + 2})'
        page.wait_for_function(f'{after}.length >= 1', timeout=2 * GUARD_MS)
        seconds = time.monotonic() - killed
        page.wait_for_function(f'{after}.length >= 25', timeout=GUARD_MS)
        sessions = page.evaluate('window.picamOperator.whepSessions')
        changes = page.evaluate('window.picamOperator.streamLog')
        state = page.evaluate('window.picamOperator.streamState')
        os.makedirs(ARTIFACTS, exist_ok=True)
        page.screenshot(path=os.path.join(ARTIFACTS, 'operator_page_after_restart.png'))
    print(f'MediaMTX killed at frame {killed_at}: first frame made after it on the page '
          f'{seconds:.2f} s later, in WHEP session {sessions}; stream states since: '
          + ', '.join(f'{(at - killed_ms) / 1000:+.2f} s {what}' for at, what in changes
                      if at >= killed_ms))
    assert server.restarts == 1 and server.ready
    assert sessions >= 2
    # Each session is named by the server (WHEP Location), so the page can end it.
    whep = operator.config.whep_url.replace('{host}', '127.0.0.1')
    assert first_session.startswith(whep + '/') and len(first_session) > len(whep) + 8, \
        first_session
    assert state == 'connected'
