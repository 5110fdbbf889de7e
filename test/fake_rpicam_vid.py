#!/usr/bin/env python3
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

"""A stand-in ``rpicam-vid``: takes its options, records its argv, writes I420 frames and pts.

It accepts the options rpicam-apps 1.3.0 defines for what picam_ros passes, refuses unknown
options and bad mode names the way rpicam-vid does (exit status 1 and a message), pads luma
rows to 64 bytes like the Pi ISP, and writes ``--save-pts`` in rpicam-vid's format: a
``# timecode format v2`` header, then each frame's sensor time in ms, exactly 1000/framerate
apart. Environment:

* ``FAKE_RPICAM_LOG``: a file that gets one JSON line per start, ``{"argv": [...]}``.
* ``FAKE_RPICAM_JITTER_MS``: each frame (and its pts line) is written after a random delay of
  0..N ms past its nominal time, the jitter of a loaded pipe; the pts stay exact.

Every byte of frame k's luma is ``k % 256`` and every chroma byte ``(k + 128) % 256``.
"""

import argparse
import json
import os
from pathlib import Path
import random
import signal
import stat
import sys
import time

CHOICES = {
    '--exposure': ('normal', 'sport', 'short', 'long', 'custom'),
    '--metering': ('centre', 'spot', 'average', 'matrix', 'custom'),
    '--awb': ('auto', 'normal', 'incandescent', 'tungsten', 'fluorescent', 'indoor',
              'daylight', 'cloudy', 'custom'),
    '--denoise': ('auto', 'off', 'cdn_off', 'cdn_fast', 'cdn_hq'),
    '--autofocus-mode': ('default', 'manual', 'auto', 'continuous'),
    '--hdr': ('off', 'auto', 'sensor', 'single-exp'),
}


def install_on_path(tmp_path, monkeypatch, jitter_ms=0):
    """Put this fake first on PATH as ``rpicam-vid``; returns a reader of the argv log."""
    bin_dir = tmp_path / 'fake-rpicam-bin'
    bin_dir.mkdir()
    wrapper = bin_dir / 'rpicam-vid'
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).resolve()}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    monkeypatch.setenv('PATH', f'{bin_dir}{os.pathsep}{os.environ.get("PATH", "")}')
    log = tmp_path / 'rpicam-argv.jsonl'
    monkeypatch.setenv('FAKE_RPICAM_LOG', str(log))
    monkeypatch.setenv('FAKE_RPICAM_JITTER_MS', str(jitter_ms))

    def starts():
        if not log.exists():
            return []
        return [json.loads(line)['argv'] for line in log.read_text().splitlines()]
    return starts


def parse(argv):
    p = argparse.ArgumentParser(prog='rpicam-vid')
    for flag in ('--flush', '--nopreview', '--inline', '--hflip', '--vflip'):
        p.add_argument(flag, action='store_true')
    p.add_argument('-t', '--timeout')
    p.add_argument('--camera', type=int, default=0)
    p.add_argument('--codec', default='h264')
    p.add_argument('--framerate', type=float, default=30.0)
    p.add_argument('--width', type=int, required=True)
    p.add_argument('--height', type=int, required=True)
    p.add_argument('-o', '--output')
    p.add_argument('--save-pts')
    for flag in ('--shutter', '--gain', '--analoggain', '--ev', '--brightness', '--contrast',
                 '--saturation', '--sharpness', '--lens-position'):
        p.add_argument(flag, type=float)
    p.add_argument('--rotation', type=int, choices=(0, 180))
    for flag in ('--awbgains', '--mode', '--roi', *CHOICES):
        p.add_argument(flag)
    args = p.parse_args(argv)
    for flag, names in CHOICES.items():
        value = getattr(args, flag[2:].replace('-', '_'))
        if value is not None and value not in names:
            print(f'ERROR: *** Invalid {flag[2:]} mode: {value} ***', file=sys.stderr)
            sys.exit(1)
    return args


def main():
    log = os.environ.get('FAKE_RPICAM_LOG')
    if log:
        with open(log, 'a') as f:
            f.write(json.dumps({'argv': sys.argv[1:]}) + '\n')
    args = parse(sys.argv[1:])
    if args.codec != 'yuv420' or args.output != '-':
        print('fake rpicam-vid: only --codec yuv420 -o - is faked', file=sys.stderr)
        return 2
    jitter = float(os.environ.get('FAKE_RPICAM_JITTER_MS', '0')) / 1000.0
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    stride = -(-args.width // 64) * 64
    luma = stride * args.height
    chroma = luma // 2
    pts = open(args.save_pts, 'w') if args.save_pts else None  # noqa: SIM115 - until exit
    if pts is not None:
        pts.write('# timecode format v2\n')
        pts.flush()
    out = sys.stdout.buffer
    period = 1.0 / args.framerate
    start = time.monotonic()
    rng = random.Random(os.getpid())
    k = 0
    while True:
        delay = start + k * period + rng.uniform(0.0, jitter) - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        out.write(bytes([k % 256]) * luma + bytes([(k + 128) % 256]) * chroma)
        out.flush()
        if pts is not None:
            micros = round(k * period * 1e6)
            pts.write(f'{micros // 1000}.{micros % 1000:03d}\n')
            pts.flush()
        k += 1


if __name__ == '__main__':
    sys.exit(main())
