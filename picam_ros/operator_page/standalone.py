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

"""The operator page without ROS: ``python -m picam_ros.operator_page`` runs :func:`main`.

One process: the synthetic board (or nothing else yet), the centroid engine on every frame,
optionally the live stream (StreamPublisher -> MediaMTX, played by the page over WHEP), and the
operator page. Sets carry each frame's sequence number, so the overlay is in step with the
video. Keying sliders change the engine's settings live (same validation as the ROS node);
targets and rotations are printed as JSON lines on stdout, for a controller to read.

    python -m picam_ros.operator_page --port 8080 --stream  # needs mediamtx ($MEDIAMTX or PATH)
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from typing import Any

from picam_ros.centroids.engine import find_centroids_in_frame
from picam_ros.centroids.settings import KeyingProfiles
from picam_ros.core.stop_request import EXIT_STOPPED, StopRequest
from picam_ros.operator_page.bridge import keying_parameter_specs
from picam_ros.operator_page.protocol import Rotate, SelectTarget, SetParameter
from picam_ros.operator_page.server import CentroidSet, OperatorConfig, OperatorServer, Outcome
from picam_ros.sources.synthetic import SyntheticConfig, SyntheticSource
from picam_ros.stream.encoder import StreamConfig, StreamPublisher
from picam_ros.stream.mediamtx import MediaServer, MediaServerConfig


class LocalBackend:
    """Applies keying changes to this process's engine; prints targets as JSON lines."""

    def __init__(self, profiles: KeyingProfiles) -> None:
        self.profiles = profiles
        self.keying = profiles.build({row.name: row.default for row in profiles.all_rows()})
        self._lock = threading.Lock()

    def handle(self, action: Any) -> Outcome:
        if isinstance(action, SetParameter):
            with self._lock:
                proposal = self.profiles.propose(self.keying, {action.name: action.value})
                if not proposal.ok:
                    return Outcome(False, proposal.reason)
                self.keying = proposal.profiles
            return Outcome(True)
        if isinstance(action, SelectTarget):
            _emit({'target': {'x': action.x, 'y': action.y, 'profile': action.profile,
                              'seq': action.seq}})
            return Outcome(True)
        if isinstance(action, Rotate):
            _emit({'rotate_deg': action.degrees})
            return Outcome(True)
        return Outcome(False, 'modes and calibration need the composite node (issue 11), '
                              'which this runner does not have yet')

    def current(self) -> dict[str, Any]:
        with self._lock:
            return self.keying


def _emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='python -m picam_ros.operator_page', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--host', default='127.0.0.1', help='address of the page')
    parser.add_argument('--port', type=int, default=8080, help='port of the page (0: any)')
    parser.add_argument('--token-file', default='', help='file holding the operator token')
    parser.add_argument('--width', type=int, default=1024)
    parser.add_argument('--height', type=int, default=1024)
    parser.add_argument('--fps', type=float, default=25.0)
    parser.add_argument('--stream', action='store_true',
                        help='start MediaMTX and stream the frames (the page plays them)')
    parser.add_argument('--webrtc-port', type=int, default=8889)
    parser.add_argument('--rtsp-port', type=int, default=8554)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Serve the page until SIGINT/SIGTERM, then stop with ``EXIT_STOPPED`` (0), whenever.

    The signals are recorded (:mod:`picam_ros.core.stop_request`), never raised: a stop while the
    page, MediaMTX or the encoder start is heard once they are up, and ends the run cleanly.
    """
    stop = StopRequest.install()
    args = parse_args(argv)
    try:
        source = SyntheticSource(SyntheticConfig(width=args.width, height=args.height,
                                                 fps=args.fps))
        profiles = KeyingProfiles(['pads'])
        backend = LocalBackend(profiles)
        whep = f'http://{{host}}:{args.webrtc_port}/cam/whep' if args.stream else ''
        server = OperatorServer(
            OperatorConfig(host=args.host, port=args.port, token_file=args.token_file,
                           whep_url=whep, profiles=profiles.names),
            backend, keying_parameter_specs(profiles.names))
    except ValueError as error:
        print(f'picam_ros.operator_page: {error}', file=sys.stderr)
        return 2
    media = publisher = None
    try:
        if stop.is_set():
            return EXIT_STOPPED
        server.start()
        print(f'operator page: {server.url(with_token=True)} (token {server.token_source})',
              file=sys.stderr, flush=True)
        if args.stream:
            media = MediaServer(MediaServerConfig(rtsp_port=args.rtsp_port,
                                                  webrtc_port=args.webrtc_port))
            media.start()
            publisher = StreamPublisher(StreamConfig(rtsp_port=args.rtsp_port, path='cam',
                                                     fps=args.fps), source.format)
            publisher.start()
        run(source, backend, server, publisher, stop)
    except (OSError, RuntimeError) as error:
        if stop.is_set():
            return EXIT_STOPPED   # the stop broke a start (MediaMTX, encoder): no fault
        print(f'picam_ros.operator_page: {error}', file=sys.stderr)
        return 1
    finally:
        for part in (publisher, media):
            if part is not None:
                part.stop()
        server.stop()
    return EXIT_STOPPED


def run(source: SyntheticSource, backend: LocalBackend, server: OperatorServer,
        publisher: StreamPublisher | None, stop: StopRequest | threading.Event) -> None:
    """Capture until ``stop``: engine on every frame, sets and status to the page."""
    width, height = source.format.width, source.format.height
    source.start()
    last_status = 0.0
    try:
        while not stop.is_set():
            frame = source.read(timeout=1.0)
            started = time.perf_counter()
            keying = backend.current()
            for profile, params in keying.items():
                blobs = find_centroids_in_frame(frame, params).blobs
                server.publish_centroids(CentroidSet(profile, frame.sequence, frame.stamp_ns,
                                                     width, height, blobs))
            elapsed_ms = 1000 * (time.perf_counter() - started)
            if publisher is not None:
                publisher.submit(frame)
            now = time.monotonic()
            if now - last_status >= 0.5:
                last_status = now
                stats = source.stats
                server.publish_status({
                    'fps': round(stats.fps, 2), 'drops': stats.drops,
                    'processing_ms': round(elapsed_ms, 3),
                    'stream_state': ('connected' if publisher and publisher.stats.connected
                                     else 'off' if publisher is None else 'connecting')})
    finally:
        source.stop()
