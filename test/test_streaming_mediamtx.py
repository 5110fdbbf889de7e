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

"""End-to-end stream through a real MediaMTX (runs when ``mediamtx`` is on PATH or $MEDIAMTX).

These pin down the two failures of the original system: a second publisher start refused
("Could not write header") and a server restart right after a stop.
"""

import os
import shutil
import signal
import subprocess
import threading

import numpy as np
from proctree import process_gone, wait_until
import pytest
from stream_fixtures import (
    frame_from_i420,
    free_tcp_port,
    read_counter,
    scene_i420,
    stamp_counter,
)

from picam_ros.encoder import StreamConfig, StreamPublisher
from picam_ros.frames import FrameFormat
from picam_ros.mediamtx import MediaServer, MediaServerConfig

MEDIAMTX = os.environ.get('MEDIAMTX') or shutil.which('mediamtx')
pytestmark = [
    pytest.mark.mediamtx,
    pytest.mark.skipif(MEDIAMTX is None,
                       reason='needs a mediamtx binary on PATH or in $MEDIAMTX'),
]

W, H = 320, 240
GUARD = 30.0


class Camera:
    """Submit frames with increasing stamped counters at about 25 fps from a thread."""

    def __init__(self, pub: StreamPublisher) -> None:
        self.pub = pub
        self.frame = frame_from_i420(scene_i420(W, H, 0), FrameFormat(W, H))
        self.index = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> 'Camera':  # noqa: PYI034 - typing.Self needs 3.11
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=GUARD)

    def _run(self) -> None:
        while not self._stop.wait(0.04):
            stamp_counter(self.frame.y, self.index)
            self.pub.submit(self.frame)
            self.index += 1


def read_frames(port: int, count: int) -> list[int]:
    """Play the stream like a viewer would (RTSP over TCP) and return the decoded counters."""
    result = subprocess.run(
        ['ffmpeg', '-hide_banner', '-loglevel', 'error', '-rtsp_transport', 'tcp',
         '-i', f'rtsp://127.0.0.1:{port}/cam', '-frames:v', str(count),
         '-f', 'rawvideo', '-pix_fmt', 'yuv420p', 'pipe:1'],
        capture_output=True, timeout=GUARD, check=True)
    frames = np.frombuffer(result.stdout, np.uint8).reshape(-1, W * H * 3 // 2)
    return [read_counter(f[:W * H].reshape(H, W)) for f in frames]


@pytest.fixture
def server_config() -> MediaServerConfig:
    return MediaServerConfig(mediamtx_path=MEDIAMTX, rtsp_port=free_tcp_port(),
                             webrtc_port=free_tcp_port(), hls_port=free_tcp_port())


def test_frames_published_through_mediamtx_reach_a_viewer_in_order(server_config):
    port = server_config.rtsp_port
    with MediaServer(server_config) as server, \
            StreamPublisher(StreamConfig(rtsp_port=port), FrameFormat(W, H)) as pub, \
            Camera(pub):
        assert server.ready
        assert wait_until(lambda: pub.stats.connected, GUARD), pub.stats
        counters = read_frames(port, 10)
    assert len(counters) == 10
    assert counters == sorted(counters)


def test_publisher_restarted_right_after_stop_is_accepted_every_time(server_config):
    port = server_config.rtsp_port
    with MediaServer(server_config):
        pub = StreamPublisher(StreamConfig(rtsp_port=port), FrameFormat(W, H))
        for cycle in range(6):
            pub.start()
            with Camera(pub):
                assert wait_until(lambda: pub.stats.connected, GUARD), (cycle, pub.stats)
                assert len(read_frames(port, 3)) == 3
            pid = pub.encoder_pid
            pub.stop()
            assert process_gone(pid)
            assert pub.stats.restarts == 0, (cycle, pub.stats)


def test_server_restarted_right_after_stop_serves_again(server_config):
    server = MediaServer(server_config)
    for _ in range(5):
        server.start()
        assert server.ready
        pid = server.pid
        server.stop()
        assert process_gone(pid)


def test_killed_mediamtx_comes_back_and_the_publisher_reconnects(server_config):
    port = server_config.rtsp_port
    with MediaServer(server_config) as server, \
            StreamPublisher(StreamConfig(rtsp_port=port, backoff_initial=0.1),
                            FrameFormat(W, H)) as pub, \
            Camera(pub):
        assert wait_until(lambda: pub.stats.connected, GUARD)
        os.kill(server.pid, signal.SIGKILL)
        assert wait_until(lambda: server.restarts == 1 and server.ready, GUARD)
        assert wait_until(lambda: pub.stats.restarts >= 1 and pub.stats.connected, GUARD)
        assert len(read_frames(port, 3)) == 3
