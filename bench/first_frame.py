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

"""How soon the operator page shows video, and what the keyframe interval costs the stream.

    python bench/first_frame.py [--size 640x480] [--fps 25] [--loads 10] [--gops 1.0 0.5]

For each ``stream.gop_seconds`` in ``--gops`` (the first is the peer the others are divided
by): the synthetic board -> encoder -> MediaMTX -> operator page chain on loopback, and
headless Chromium loading the page ``--loads`` times, each load at another phase of the
keyframe interval. Per load: navigation start to the page's first presented frame
(``readyAt``, requestVideoFrameCallback), and the part of it spent waiting for a key frame
after WebRTC connected. Then the encoder's cost of that interval: the same ``--frames``
synthetic frames encoded with the stream's own ffmpeg command (output to a file instead of
RTSP), CPU seconds of ffmpeg and bytes, as ratios to the first interval.

Needs MediaMTX, Chromium, Playwright and aiohttp; prints "skipped: ..." without them.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time

# bench/ runs as a script; its helpers live in test/ (ruff's isort section for bench/
# already accepts imports after a sys.path change (hence RUF100 too).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'test'))
from browser_viewer import CHROMIUM_FLAGS, find_chromium, LOOPBACK_ICE_ENV  # noqa: E402, RUF100
from stream_fixtures import find_mediamtx, free_server_ports  # noqa: E402, RUF100

from picam_ros.centroids.engine import find_centroids_in_frame, KeyingParams  # noqa: E402, RUF100
from picam_ros.sources.synthetic import SyntheticConfig, SyntheticSource  # noqa: E402, RUF100
from picam_ros.stream.encoder import encoder_argv, StreamConfig  # noqa: E402, RUF100

try:
    from playwright.sync_api import sync_playwright
except ImportError:
    sync_playwright = None
try:
    from picam_ros.operator_page.server import CentroidSet, OperatorConfig, OperatorServer
except ImportError:       # no aiohttp
    OperatorServer = None

GUARD_MS = 30000   # failure guard only


class _NoBackend:
    def handle(self, action):
        raise RuntimeError(f'the bench page sends no actions, got {action}')


def feed(source, publisher, operator, stop: threading.Event) -> None:
    """Frames to the encoder and their centroids to the page, at the source's pace."""
    params = KeyingParams()
    width, height = source.format.width, source.format.height
    while not stop.is_set():
        try:
            frame = source.read(timeout=1.0)
        except Exception:  # noqa: BLE001 - stopped under us
            return
        blobs = find_centroids_in_frame(frame, params).blobs
        operator.publish_centroids(CentroidSet('pads', frame.sequence, frame.stamp_ns, width,
                                               height, blobs))
        publisher.submit(frame)


def page_loads(gop: float, args, chromium: str) -> list[tuple[float, float]]:
    """(first frame ms, ms from WebRTC connected to it) for each of ``args.loads`` loads."""
    from picam_ros.stream.encoder import StreamPublisher
    from picam_ros.stream.mediamtx import MediaServer, MediaServerConfig

    os.environ.update(LOOPBACK_ICE_ENV)
    media = MediaServerConfig(mediamtx_path=find_mediamtx(), **free_server_ports())
    source = SyntheticSource(SyntheticConfig(width=args.width, height=args.height,
                                             fps=args.fps))
    stream = StreamConfig(rtsp_port=media.rtsp_port, path='cam', fps=args.fps,
                          gop_seconds=gop)
    operator = OperatorServer(OperatorConfig(
        port=0, token='t', history=128, whep_url=f'http://{{host}}:{media.webrtc_port}/cam/whep'),
        _NoBackend())
    operator.start()
    stop = threading.Event()
    results = []
    try:
        with MediaServer(media), StreamPublisher(stream, source.format) as publisher, \
                sync_playwright() as playwright:
            source.start()
            feeder = threading.Thread(target=feed, args=(source, publisher, operator, stop),
                                      daemon=True)
            feeder.start()
            browser = playwright.chromium.launch(
                executable_path=chromium, headless=True,
                args=[*CHROMIUM_FLAGS, '--autoplay-policy=no-user-gesture-required'])
            try:
                for load in range(args.loads + 1):   # the first load warms the browser up
                    # Each load at another phase of the keyframe interval (golden ratio steps).
                    time.sleep((load * 0.618 * gop) % gop)
                    page = browser.new_page()
                    posts = []
                    page.on('requestfinished', lambda request, posts=posts: posts.append(
                        request) if request.method == 'POST' else None)
                    page.goto(operator.url())
                    page.wait_for_function('window.picamOperator && '
                                           'window.picamOperator.readyAt !== null',
                                           timeout=GUARD_MS)
                    ready, log, hello, loaded = page.evaluate(
                        '[window.picamOperator.readyAt, window.picamOperator.streamLog, '
                        'window.picamOperator.helloAt, performance.getEntriesByType('
                        "'navigation')[0].domContentLoadedEventEnd]")
                    if args.verbose:
                        whep = [(round(r.timing['startTime'] - page.evaluate(
                            'performance.timeOrigin')), round(r.timing['responseEnd']))
                            for r in posts]
                        print(f'  load {load}: DOM {loaded:.0f} ms, hello {hello:.0f} ms, '
                              f'stream {log}, WHEP POST (sent at, took) {whep}, first frame '
                              f'{ready:.0f} ms', flush=True)
                    connected = next((at for at, state in log if state == 'connected'), ready)
                    if load:
                        results.append((ready, ready - connected))
                    page.close()
            finally:
                browser.close()
    finally:
        stop.set()
        source.stop()
        operator.stop()
    return results


def encode_cost(gop: float, args) -> tuple[float, int]:
    """CPU seconds of ffmpeg and bytes out for ``args.frames`` frames at this interval."""
    source = SyntheticSource(SyntheticConfig(width=args.width, height=args.height,
                                             fps=args.fps, paced=False))
    config = StreamConfig(fps=args.fps, gop_seconds=gop)
    fmt = source.format
    argv = encoder_argv(config, fmt)
    argv = argv[:argv.index('-f', argv.index('pipe:0'))] + ['-f', 'h264', '-y']
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, 'out.h264')
        # The synthetic frames are unpadded: their buffer is what the encoder reads.
        frames = [bytes(source.render(i).data) for i in range(min(args.frames, 50))]
        if len(frames[0]) != fmt.packed_bytes:
            raise SystemExit(f'{args.size}: a padded synthetic frame; use a width that is a '
                             f'multiple of 64')
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        process = subprocess.Popen([*argv, out], stdin=subprocess.PIPE,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for i in range(args.frames):
            process.stdin.write(frames[i % len(frames)])
        process.stdin.close()
        process.wait(timeout=600)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return cpu, os.path.getsize(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', default='640x480', help='WIDTHxHEIGHT of the stream')
    parser.add_argument('--fps', type=float, default=25.0)
    parser.add_argument('--loads', type=int, default=10, help='page loads per interval')
    parser.add_argument('--frames', type=int, default=500, help='frames encoded for the cost')
    parser.add_argument('--gops', type=float, nargs='+', default=[1.0, 0.5],
                        help='keyframe intervals, seconds; the first is the peer')
    parser.add_argument('--verbose', action='store_true', help='print the steps of each load')
    args = parser.parse_args()
    try:
        args.width, args.height = (int(v) for v in args.size.split('x'))
    except ValueError:
        parser.error(f'--size {args.size!r}: expected WIDTHxHEIGHT, e.g. 640x480')
    chromium = find_chromium()
    missing = [what for what, ok in (('MediaMTX', find_mediamtx()), ('Chromium', chromium),
                                     ('Playwright', sync_playwright),
                                     ('aiohttp', OperatorServer)) if not ok]
    if missing:
        print(f'skipped: needs {", ".join(missing)}')
        return 0
    rows = []
    for gop in args.gops:
        loads = page_loads(gop, args, chromium)
        cpu, size = encode_cost(gop, args)
        first = sorted(ms for ms, _ in loads)
        waits = sorted(ms for _, ms in loads)
        rows.append((gop, first, waits, cpu, size))
        print(f'gop {gop:g} s: first frame after load median {statistics.median(first):.0f} ms, '
              f'max {first[-1]:.0f} ms ({len(first)} loads: '
              f'{" ".join(f"{ms:.0f}" for ms in first)}); after WebRTC connected median '
              f'{statistics.median(waits):.0f} ms, max {waits[-1]:.0f} ms; encoding '
              f'{args.frames} frames {args.width}x{args.height}: ffmpeg {cpu:.2f} CPU s, '
              f'{size / 1e3:.0f} kB', flush=True)
    _, first0, _, cpu0, size0 = rows[0]
    for gop, first, _, cpu, size in rows[1:]:
        print(f'gop {gop:g} s / {rows[0][0]:g} s: first frame max {first[-1] / first0[-1]:.2f}, '
              f'median {statistics.median(first) / statistics.median(first0):.2f}; ffmpeg CPU '
              f'{cpu / cpu0:.2f}, bytes {size / size0:.2f}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
