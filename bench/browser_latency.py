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

Chain: synthetic source (paced like a sensor, stamps its sequence number into the pixels) ->
encoder (ffmpeg, the project's command ``encoder_argv``, the same for both paths) -> RTSP ->
MediaMTX (config/mediamtx.yml) -> WebRTC (WHEP) -> headless Chromium, whose page reads each
presented frame's stamp (requestVideoFrameCallback + canvas, test/browser/stamp_viewer.html).
Latency = presentation time (performance.timeOrigin + presentationTime, mapped onto Python's
``time.time_ns`` by a measured offset) - capture time, the time the camera took the frame (its
due time, see ``Capture``: a capture loop that reads late pays for it, as it would with a
camera). "net" ends at the frame's receive time in Chromium (metadata.receiveTime), "browser"
is the rest. Lost = frames the camera made in the measured window that the page never
presented, split into frames the capture loop never read, frames the publisher dropped, frames
Chromium decoded but did not composite, and frames composited but not seen by the page.
Beside that, the page reads every decoded frame off its track (MediaStreamTrackProcessor,
``--no-decoded`` turns it off): a frame sent to the encoder that never arrives there is lost
between encoder and page (server, network, decoder), which the compositor's choices are not.

Paths, interleaved in the same run at each size: ``StreamPublisher`` (writer thread, bounded
queue) and the original system's design, the capture loop writing each frame straight into
ffmpeg's stdin (the peer, ``DirectPipe`` of bench/stream.py).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import sys
import threading
import time

# The viewer and MediaMTX helpers live with the tests. flake8 wants E402 waived below; ruff
# already accepts imports after a sys.path change (hence RUF100 too).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'test'))
from browser_viewer import BrowserViewer, find_chromium, LOOPBACK_ICE_ENV  # noqa: E402, RUF100
from camera_size import camera_size  # noqa: E402, RUF100 - bench/camera_size.py
import numpy as np  # noqa: E402, RUF100
from stream import DirectPipe  # noqa: E402, RUF100 - bench/stream.py, the same peer
from stream_fixtures import find_mediamtx, free_server_ports  # noqa: E402, RUF100

from picam_ros.sources import SourceStopped  # noqa: E402, RUF100
from picam_ros.sources.synthetic import SyntheticConfig, SyntheticSource  # noqa: E402, RUF100
from picam_ros.stream.encoder import StreamConfig, StreamPublisher  # noqa: E402, RUF100
from picam_ros.stream.mediamtx import MediaServer, MediaServerConfig  # noqa: E402, RUF100

GOAL_P50_MS = 120.0
SIZES = ((1280, 720, 30.0), (1024, 1024, 25.0))


def pct(values, q) -> float:
    return float(np.percentile(values, q)) if len(values) else float('nan')


class Capture(threading.Thread):
    """The capture loop: read the paced source, hand each frame to the stream path.

    Capture time is when the camera took the frame: frame ``n`` is due at ``t0 + n / fps``
    (the synthetic source is paced like a sensor). The source renders a frame when it is read,
    so a loop that reads late (blocked in a write, as the direct pipe is while ffmpeg is busy)
    gets a frame stamped late: a real camera's frame would have waited in its buffers for that
    long. ``t0`` is estimated as the earliest ``read - n / fps`` seen; ``late_ms`` keeps how late
    each frame was read.
    """

    def __init__(self, source: SyntheticSource, sink) -> None:
        super().__init__(daemon=True)
        self.source, self.sink = source, sink
        self.period_ns = 1e9 / source.config.fps
        self.read_at: dict[int, tuple[int, int]] = {}   # sequence -> (time_ns, monotonic_ns)
        self.measuring = False
        self._t0_ns: float | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                frame = self.source.read(timeout=1.0)
            except SourceStopped:
                return
            start = frame.mono_ns - frame.sequence * self.period_ns
            self._t0_ns = start if self._t0_ns is None else min(self._t0_ns, start)
            if self.measuring:
                self.read_at[frame.sequence] = (frame.stamp_ns, frame.mono_ns)
            self.sink.submit(frame)

    @property
    def captured(self) -> dict[int, float]:
        """Sequence -> capture (due) time on the wall clock, ns."""
        return {seq: wall - self._late_ns(seq, mono) for seq, (wall, mono) in
                self.read_at.items()}

    def late_ms(self) -> list[float]:
        return [self._late_ns(seq, mono) / 1e6 for seq, (_, mono) in self.read_at.items()]

    def _late_ns(self, sequence: int, mono_ns: int) -> float:
        return mono_ns - (self._t0_ns + sequence * self.period_ns)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)


def drain(viewer: BrowserViewer) -> dict[int, tuple[float, float]]:
    return {seq: (shown, received) for seq, shown, received in viewer.drain_records()}


def one_run(viewer: BrowserViewer, mediamtx: str, width: int, height: int, fps: float,
            producer: str, seconds: float, read_decoded: bool = True,
            peer_nodelay: bool = False) -> dict[str, object]:
    os.environ.update(LOOPBACK_ICE_ENV)
    server_config = MediaServerConfig(mediamtx_path=mediamtx, **free_server_ports())
    source = SyntheticSource(SyntheticConfig(width=width, height=height, fps=fps, noise=0))
    stream = StreamConfig(rtsp_port=server_config.rtsp_port, path='cam', fps=fps)
    presented: dict[int, tuple[float, float]] = {}
    decoded: dict[int, float] = {}
    with MediaServer(server_config):
        sink = (StreamPublisher(stream, source.format) if producer == 'publisher' else
                DirectPipe(stream, source.format, new_session=producer == 'direct_session',
                           nodelay=peer_nodelay))
        if isinstance(sink, StreamPublisher):
            sink.start()
        source.start()
        capture = Capture(source, sink)
        capture.start()
        try:
            viewer.open(server_config.webrtc_port, 'cam', decoded=read_decoded)
            deadline = time.monotonic() + 30
            while not viewer.drain() and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.5)   # warm-up: the page settles after its first keyframe
            viewer.drain()
            viewer.drain_decoded()
            offset_before = viewer.clock_offset_ms()
            stats_before = viewer.receiver_stats()
            dropped0 = sink.stats.dropped if isinstance(sink, StreamPublisher) else 0
            capture.measuring = True
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                time.sleep(0.25)
                presented.update(drain(viewer))
                decoded.update(viewer.drain_decoded())
            capture.measuring = False
            time.sleep(1.0)   # frames of the window still in flight
            presented.update(drain(viewer))
            decoded.update(viewer.drain_decoded())
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
    window = range(min(captured), max(captured) + 1) if captured else range(0)
    shown = [s for s in captured if s in presented]
    latency = [presented[s][0] - offset - captured[s] / 1e6 for s in shown]
    network = [presented[s][1] - offset - captured[s] / 1e6 for s in shown
               if presented[s][1] > 0]
    browser = [presented[s][0] - presented[s][1] for s in shown if presented[s][1] > 0]
    receiver = {k: stats_after[k] - stats_before[k] for k in
                ('framesReceived', 'framesDecoded', 'framesDropped', 'packetsLost',
                 'presented', 'unobserved', 'qualityTotal', 'qualityDropped', 'freezeCount')}
    return {'latency_ms': latency, 'network_ms': network, 'browser_ms': browser,
            # Every frame the camera made in the window counts: one the capture loop never
            # read (it was blocked in a write: the direct pipe) is lost as much as one dropped.
            'frames': len(window), 'lost': sum(1 for s in window if s not in presented),
            # Frames the page never received decoded (None: not read); those the camera loop
            # never read or the publisher dropped never reached the encoder.
            'not_decoded': (sum(1 for s in window if s not in decoded) if read_decoded
                            else None),
            'camera_skips': sum(1 for s in window if s not in captured),
            'read_late_ms': capture.late_ms(),
            'publisher_drops': dropped, 'stdin_ms': stdin_ms,
            'clock_drift_ms': offset_after - offset_before,
            'unreadable': state['unreadable'], 'sessions': state['sessions'],
            'receiver': receiver, 'jitter_buffer_ms': stats_after['jitterBufferDelayMs'],
            # Per frame, for --dump: sequence, capture, received, presented and decoded times
            # (ms on Python's wall clock; NaN where the page has none).
            'per_frame': [(s, captured[s] / 1e6, presented[s][1] - offset if presented[s][1] > 0
                           else float('nan'), presented[s][0] - offset,
                           decoded[s] - offset if s in decoded else float('nan'))
                          for s in shown]}


def med(values) -> float:
    return float(np.median(values)) if len(values) else float('nan')


# A frame this late in transit on loopback waited for something (e.g. Nagle + delayed ACK, 40 ms).
LATE_IN_TRANSIT_MS = 30.0
PATHS = (('publisher', 'StreamPublisher'), ('direct', 'direct pipe (original)'))
SESSION_PEER = ('direct_session', 'direct pipe, own session')


def report(size: str, runs: dict[str, list[dict[str, object]]], paths=PATHS) -> float:
    """Print one size's table; return the median over runs of the publisher/direct p50 ratio."""
    for producer, label in paths:
        rs = runs[producer]
        p50 = [pct(r['latency_ms'], 50) for r in rs]
        frames = sum(r['frames'] for r in rs)
        total = {key: sum(r[key] for r in rs)
                 for key in ('lost', 'camera_skips', 'publisher_drops')}
        rec = {key: sum(r['receiver'][key] for r in rs)
               for key in ('qualityDropped', 'unobserved', 'packetsLost', 'framesDropped')}
        print(f'   {size:<13} {label:<24} {med(p50):>6.1f} '
              f'{med([pct(r["latency_ms"], 90) for r in rs]):>6.1f} '
              f'{med([pct(r["network_ms"], 50) for r in rs]):>7.1f} '
              f'{med([pct(r["browser_ms"], 50) for r in rs]):>7.1f} '
              f'{total["lost"]:>5}/{frames:<5} {total["camera_skips"]:>6} '
              f'{total["publisher_drops"]:>6} {rec["qualityDropped"]:>7} '
              f'{rec["unobserved"]:>6} {med([pct(r["read_late_ms"], 90) for r in rs]):>5.1f}  '
              f'{"/".join(f"{v:.0f}" for v in p50)}')
        print(f'   {"":<13} {"":<24} WebRTC in the window: packetsLost {rec["packetsLost"]}, '
              f'framesDropped (before decoding) {rec["framesDropped"]}')
        print(f'   {"":<13} {"":<24} capture -> last byte in ffmpeg stdin p50/p90 '
              f'{med([pct(r["stdin_ms"], 50) for r in rs]):.1f}/'
              f'{med([pct(r["stdin_ms"], 90) for r in rs]):.1f} ms; capture -> received p90 '
              f'{med([pct(r["network_ms"], 90) for r in rs]):.1f} ms; Chromium jitter buffer '
              f'{med([r["jitter_buffer_ms"] for r in rs]):.1f} ms (mean per frame)')
        late = [100.0 * float(np.mean(np.asarray(r['network_ms']) > LATE_IN_TRANSIT_MS))
                for r in rs]
        print(f'   {"":<13} {"":<24} frames received more than {LATE_IN_TRANSIT_MS:g} ms after '
              f'capture: {med(late):.1f}% median, {min(late):.1f}-{max(late):.1f}% per run')
        if all(r['not_decoded'] is not None for r in rs):
            missing = sum(r['not_decoded'] for r in rs)
            sent = frames - total['camera_skips'] - total['publisher_drops']
            at_page = missing - total['camera_skips'] - total['publisher_drops']
            print(f'   {"":<13} {"":<24} decoded in the page (every frame read off the track): '
                  f'{frames - missing} of {frames} made, {sent} sent to the encoder; lost '
                  f'between encoder and page: {at_page}')
    pairs = [pct(a['latency_ms'], 50) / pct(b['latency_ms'], 50)
             for a, b in zip(runs['publisher'], runs['direct'])]
    ratio = med([pct(r['latency_ms'], 50) for r in runs['publisher']]) / med(
        [pct(r['latency_ms'], 50) for r in runs['direct']])
    print(f'   {size:<13} p50 ratio StreamPublisher / direct: {ratio:.2f} (medians of per-run '
          f'p50); per pair {med(pairs):.2f} median, {"/".join(f"{v:.2f}" for v in pairs)}')
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seconds', type=float, default=6.0, help='measured time per run')
    parser.add_argument('--repeats', type=int, default=5,
                        help='runs per path and size, the paths interleaved (ABBA order)')
    parser.add_argument('--sizes', nargs='+', type=camera_size, default=list(SIZES),
                        help='WxH@FPS (@FPS optional: 30)')
    parser.add_argument('--session-peer', action='store_true',
                        help='also run the direct pipe with ffmpeg in a session of its own')
    parser.add_argument('--peer-nodelay', action='store_true',
                        help="run the direct pipe's ffmpeg with Nagle off too, as "
                             'StreamPublisher runs it (picam_ros.stream.tcp_nodelay): '
                             'like for like')
    parser.add_argument('--no-decoded', action='store_true',
                        help="do not also read every decoded frame off the page's track "
                             '(MediaStreamTrackProcessor; costs the page a canvas read each)')
    parser.add_argument('--chromium-flag', action='append', default=[],
                        help='extra Chromium flag (repeatable), e.g. --disable-frame-rate-limit')
    parser.add_argument('--dump', type=Path, metavar='FILE',
                        help="also write every run's per-frame times (JSON) to FILE")
    args = parser.parse_args()
    mediamtx, chromium = find_mediamtx(), find_chromium()
    if mediamtx is None or chromium is None:
        sys.exit('browser_latency: needs MediaMTX (scripts/get-mediamtx.sh or $MEDIAMTX) and '
                 'chromium (apt-get install chromium)')
    print(f'cpus: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.2f}')
    print(f'MediaMTX: {mediamtx}\nbrowser: {chromium} (headless, Playwright) '
          f'{" ".join(args.chromium_flag)}')
    print('both paths: the same encoder command (picam_ros.stream.encoder.encoder_argv), the same '
          'frames, sizes and server config; StreamPublisher runs ffmpeg with Nagle off '
          f'(picam_ros.stream.tcp_nodelay), the direct pipe '
          f'{"too (--peer-nodelay)" if args.peer_nodelay else "as the original did (on)"}\n')
    print(f'capture -> presented in Chromium (ms): medians over {args.repeats} interleaved runs '
          f"of {args.seconds:g} s per path of each run's p50/p90; net = capture -> last packet "
          f'received by Chromium, browser = received -> presented')
    print("not seen = frames the camera made in the window that the page's callback never saw; "
          'of them cam = never read (the capture '
          'loop was blocked), pub = dropped by the publisher, comp = decoded, not composited '
          '(getVideoPlaybackQuality); unseen = presented '
          "but not seen by the page's callback (presentedFrames; comp and unseen are counted "
          'over the window plus its last second); late = p90 of how late the '
          'capture loop read a frame after the camera took it (included in the latency)')
    print(f'   {"size":<13} {"path":<24} {"p50":>6} {"p90":>6} {"net":>7} {"browser":>7} '
          f'{"not seen":>11} {"cam":>6} {"pub":>6} {"comp":>7} {"unseen":>6} '
          f'{"late":>5}  '
          f'p50 per run')
    ratios, dump = [], {}
    with BrowserViewer(chromium, extra_flags=args.chromium_flag) as viewer:
        for width, height, fps in args.sizes:
            paths = PATHS + (SESSION_PEER,) if args.session_peer else PATHS
            runs: dict[str, list[dict[str, object]]] = {p: [] for p, _ in paths}
            for repeat in range(args.repeats):
                order = paths if repeat % 2 == 0 else paths[::-1]
                for producer, _ in order:
                    runs[producer].append(one_run(viewer, mediamtx, width, height, fps,
                                                  producer, args.seconds,
                                                  read_decoded=not args.no_decoded,
                                                  peer_nodelay=args.peer_nodelay))
            size = f'{width}x{height}@{fps:g}'
            dump[size] = {p: [{'order': i, 'per_frame': r['per_frame'],
                               'stdin_ms': [float(v) for v in r['stdin_ms']],
                               'jitter_buffer_ms': r['jitter_buffer_ms']}
                              for i, r in enumerate(rs)] for p, rs in runs.items()}
            ratios.append((size, report(size, runs, paths)))
            if (width, height) == (1280, 720):
                ours = med([pct(r['latency_ms'], 50) for r in runs['publisher']])
                print(f'   goal p50 < {GOAL_P50_MS:.0f} ms at 1280x720@30: '
                      f'{"met" if ours < GOAL_P50_MS else "NOT met"} ({ours:.1f} ms)')
    for size, ratio in ratios:
        print(f'p50 ratio StreamPublisher / direct pipe at {size}: {ratio:.2f} '
              f'({"never worse: met" if ratio <= 1.0 else "worse"})')
    print(f'load average at end: {os.getloadavg()[0]:.2f}')
    if args.dump:
        args.dump.write_text(json.dumps(dump))
        print(f'per-frame times: {args.dump}')


if __name__ == '__main__':
    main()
