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

"""Glass-to-glass latency: capture of a stamped frame -> its presentation in a real browser.

Run: ``python bench/browser_latency.py`` (options: ``--seconds 8 --repeats 2``). Needs the
MediaMTX of ``scripts/get-mediamtx.sh`` (or ``$MEDIAMTX``), Debian's chromium and playwright.

Chain: synthetic source (paced, stamps its sequence number into the pixels) -> encoder
(ffmpeg, the project's command) -> RTSP -> MediaMTX (config/mediamtx.yml) -> WebRTC (WHEP) ->
headless Chromium, whose page reads each presented frame's stamp (requestVideoFrameCallback +
canvas, test/browser/stamp_viewer.html). Latency = presentation time (performance.timeOrigin +
presentationTime, mapped onto Python's ``time.time_ns`` by a measured offset) - capture time
(``Frame.stamp_ns``). Lost = frames captured in the measured window that the page never
presented (dropped by the publisher, the network path or the page); the receiver counters
printed per run (WebRTC inbound-rtp stats) tell which. "stdin p50": capture -> last byte in
ffmpeg's stdin for the publisher, the blocking write itself for the direct pipe.

Paths, interleaved in the same run at each size: ``StreamPublisher`` (writer thread, bounded
queue) and the original system's design, the capture loop writing each frame straight into
ffmpeg's stdin (the peer, ``DirectPipe`` of bench/stream.py).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import sys
import threading
import time

# The viewer and MediaMTX helpers live with the tests. flake8 wants E402 waived below; ruff
# already accepts imports after a sys.path change (hence RUF100 too).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'test'))
from browser_viewer import BrowserViewer, find_chromium, LOOPBACK_ICE_ENV  # noqa: E402, RUF100
import numpy as np  # noqa: E402, RUF100
from stream import DirectPipe  # noqa: E402, RUF100 - bench/stream.py, the same peer
from stream_fixtures import find_mediamtx, free_tcp_port, mediamtx_side_ports  # noqa: E402, RUF100

from picam_ros.encoder import StreamConfig, StreamPublisher  # noqa: E402, RUF100
from picam_ros.mediamtx import MediaServer, MediaServerConfig  # noqa: E402, RUF100
from picam_ros.sources import SourceStopped  # noqa: E402, RUF100
from picam_ros.sources.synthetic import SyntheticConfig, SyntheticSource  # noqa: E402, RUF100

GOAL_P50_MS = 120.0
SIZES = ((1280, 720, 30.0), (1024, 1024, 25.0))


def pct(values, q) -> float:
    return float(np.percentile(values, q)) if len(values) else float('nan')


class Capture(threading.Thread):
    """The capture loop: read the paced source, hand each frame to the stream path."""

    def __init__(self, source: SyntheticSource, sink) -> None:
        super().__init__(daemon=True)
        self.source, self.sink = source, sink
        self.captured: dict[int, int] = {}   # sequence -> capture time (time.time_ns)
        self.measuring = False
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                frame = self.source.read(timeout=1.0)
            except SourceStopped:
                return
            if self.measuring:
                self.captured[frame.sequence] = frame.stamp_ns
            self.sink.submit(frame)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)


def one_run(viewer: BrowserViewer, mediamtx: str, width: int, height: int, fps: float,
            producer: str, seconds: float) -> dict[str, object]:
    os.environ.update({**mediamtx_side_ports(), **LOOPBACK_ICE_ENV})
    server_config = MediaServerConfig(mediamtx_path=mediamtx, rtsp_port=free_tcp_port(),
                                      webrtc_port=free_tcp_port(), hls_port=free_tcp_port())
    source = SyntheticSource(SyntheticConfig(width=width, height=height, fps=fps, noise=0))
    stream = StreamConfig(rtsp_port=server_config.rtsp_port, path='cam', fps=fps)
    presented: dict[int, float] = {}
    with MediaServer(server_config):
        sink = (StreamPublisher(stream, source.format) if producer == 'publisher' else
                DirectPipe(stream, source.format))
        if isinstance(sink, StreamPublisher):
            sink.start()
        source.start()
        capture = Capture(source, sink)
        capture.start()
        try:
            viewer.open(server_config.webrtc_port, 'cam')
            deadline = time.monotonic() + 30
            while not viewer.drain() and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.5)   # warm-up: the page settles after its first keyframe
            viewer.drain()
            offset_before = viewer.clock_offset_ms()
            stats_before = viewer.receiver_stats()
            dropped0 = sink.stats.dropped if isinstance(sink, StreamPublisher) else 0
            capture.measuring = True
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                time.sleep(0.25)
                presented.update(viewer.drain())
            capture.measuring = False
            time.sleep(1.0)   # frames of the window still in flight
            presented.update(viewer.drain())
            offset_after = viewer.clock_offset_ms()
            stats_after = viewer.receiver_stats()
            dropped = sink.stats.dropped - dropped0 if isinstance(sink, StreamPublisher) else 0
            # capture -> last byte in ffmpeg's stdin (publisher) / the blocking write (direct)
            stdin_ms = (sink.write_latencies_ms() if isinstance(sink, StreamPublisher) else
                        np.array(sink.write_ms))[-len(capture.captured):]
            state = viewer.state()
        finally:
            capture.stop()
            source.stop()
            if isinstance(sink, StreamPublisher):
                sink.stop()
            else:
                sink.close()
    offset = (offset_before + offset_after) / 2
    captured = capture.captured
    latency = [presented[s] - offset - t / 1e6 for s, t in captured.items() if s in presented]
    return {'latency_ms': latency, 'frames': len(captured),
            'lost': sum(1 for s in captured if s not in presented),
            'publisher_drops': dropped, 'stdin_ms': stdin_ms,
            'clock_drift_ms': offset_after - offset_before,
            'unreadable': state['unreadable'], 'sessions': state['sessions'],
            'receiver': {k: stats_after[k] - stats_before[k] for k in
                         ('framesReceived', 'framesDecoded', 'framesDropped', 'packetsLost',
                          'presented')},
            'jitter_buffer_ms': stats_after['jitterBufferDelayMs']}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seconds', type=float, default=8.0, help='measured time per run')
    parser.add_argument('--repeats', type=int, default=2, help='interleaved runs per path')
    args = parser.parse_args()
    mediamtx, chromium = find_mediamtx(), find_chromium()
    if mediamtx is None or chromium is None:
        sys.exit('browser_latency: needs MediaMTX (scripts/get-mediamtx.sh or $MEDIAMTX) and '
                 'chromium (apt-get install chromium)')
    print(f'cpus: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.2f}')
    print(f'MediaMTX: {mediamtx}\nbrowser: {chromium} (headless, Playwright)\n')
    print(f'capture -> presented in Chromium (ms), {args.repeats} interleaved runs of '
          f'{args.seconds:g} s per path, percentiles over all of them')
    print(f'   {"size":<13} {"path":<30} {"p50":>6} {"p90":>6} {"p99":>6} {"max":>6} '
          f'{"lost":>9} {"pub drops":>9} {"stdin p50":>9} {"p50 per run":<12}')
    summary = []
    with BrowserViewer(chromium) as viewer:
        for width, height, fps in SIZES:
            paths = (('publisher', 'StreamPublisher'), ('direct', 'direct pipe (original)'))
            runs: dict[str, list[dict[str, object]]] = {p: [] for p, _ in paths}
            for _ in range(args.repeats):
                for producer, _ in paths:
                    runs[producer].append(one_run(viewer, mediamtx, width, height, fps,
                                                  producer, args.seconds))
            p50 = {}
            for producer, label in paths:
                lat = [v for r in runs[producer] for v in r['latency_ms']]
                lost = sum(r['lost'] for r in runs[producer])
                frames = sum(r['frames'] for r in runs[producer])
                drops = sum(r['publisher_drops'] for r in runs[producer])
                stdin = [v for r in runs[producer] for v in r['stdin_ms']]
                per_run = '/'.join(f'{pct(r["latency_ms"], 50):.0f}' for r in runs[producer])
                p50[producer] = pct(lat, 50)
                size = f'{width}x{height}@{fps:g}'
                print(f'   {size:<13} {label:<30} {pct(lat, 50):>6.1f} {pct(lat, 90):>6.1f} '
                      f'{pct(lat, 99):>6.1f} {max(lat) if lat else float("nan"):>6.1f} '
                      f'{lost:>4}/{frames:<4} {drops:>9} {pct(stdin, 50):>9.1f} {per_run:<12}')
            summary.append((f'{width}x{height}@{fps:g}', p50['publisher'] / p50['direct']))
            if (width, height) == (1280, 720):
                ours = p50['publisher']
                print(f'   goal p50 < {GOAL_P50_MS:.0f} ms at 1280x720@30: '
                      f'{"met" if ours < GOAL_P50_MS else "NOT met"} ({ours:.1f} ms)')
            for producer, label in paths:
                for r in runs[producer]:
                    print(f'      {label:<27} receiver during the window: {r["receiver"]}, '
                          f'jitter buffer {r["jitter_buffer_ms"]:.1f} ms')
    for size, ratio in summary:
        print(f'p50 ratio StreamPublisher / direct pipe at {size}: {ratio:.2f}')
    print(f'load average at end: {os.getloadavg()[0]:.2f}')


if __name__ == '__main__':
    main()
