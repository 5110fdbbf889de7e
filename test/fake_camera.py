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

"""A stand-in camera process: writes raw I420 frames to stdout, optionally misbehaving.

Run directly (``fake_camera.py --width 64 --height 48 ...``) or as ``rpicam-vid`` through a
wrapper (``--as-rpicam`` first): then it insists on the argv rpicam-vid gets from
``RpicamSource`` and pads rows to 64 bytes like the Pi ISP. ``FAKE_CAMERA_ARGS`` (shell syntax)
appends options, so tests can inject faults into a command line they do not control;
``FAKE_CAMERA_ARGV_LOG`` names a file that receives the argv, one argument per line.

Frame ``k`` of a run has Y[r, c] = (r + 2c + k) % 251, U[r, c] = (r + c + 2k) % 251,
V[r, c] = (2r + c + k) % 251 and padding bytes of 255 (a value the pattern never takes), so a
reader can check every byte of a frame, and a frame stitched from two runs cannot pass.
"""

import argparse
import os
import shlex
import signal
import sys
import time


def pattern_value(plane, r, c, k):
    if plane == 'y':
        return (r + 2 * c + k) % 251
    if plane == 'u':
        return (r + c + 2 * k) % 251
    return (2 * r + c + k) % 251


def base_frame(width, height, stride):
    """Frame 0 with padded rows; later frames are byte translations of it."""
    parts = []
    for plane, w, h, s in (('y', width, height, stride),
                           ('u', width // 2, height // 2, stride // 2),
                           ('v', width // 2, height // 2, stride // 2)):
        pad = b'\xff' * (s - w)
        for r in range(h):
            parts.append(bytes(pattern_value(plane, r, c, 0) for c in range(w)) + pad)
    return b''.join(parts)


def shift_table(k, plane):
    # Y and V shift by k, U by 2k; 251..255 (padding) map to themselves.
    step = (2 * k if plane == 'u' else k) % 251
    return bytes([(v + step) % 251 for v in range(251)] + list(range(251, 256)))


def parse(argv):
    p = argparse.ArgumentParser()
    p.add_argument('--as-rpicam', action='store_true')
    p.add_argument('--width', type=int, required=True)
    p.add_argument('--height', type=int, required=True)
    p.add_argument('--framerate', type=float, default=30.0)
    p.add_argument('--stride', type=int, default=0, help='bytes per luma row (0: width, or '
                                                         'width rounded up to 64 as rpicam)')
    p.add_argument('--frames', type=int, default=-1, help='frames before the fault')
    p.add_argument('--fault', default='none',
                   choices=['none', 'stall', 'truncate', 'die', 'exit', 'eof', 'silent',
                            'noise'],
                   help='after --frames frames: stall mid-frame, truncate, die, exit 1, '
                        'eof; silent: write nothing and hang; noise: random bytes, unpaced')
    p.add_argument('--say', default='', help='a line to print on stderr at start')
    p.add_argument('--unpaced', action='store_true')
    # rpicam-vid options RpicamSource passes
    p.add_argument('--flush', action='store_true')
    p.add_argument('-t', dest='time_ms')
    p.add_argument('--camera', type=int)
    p.add_argument('--nopreview', action='store_true')
    p.add_argument('--codec')
    p.add_argument('--inline', action='store_true')
    p.add_argument('-o', dest='output')
    p.add_argument('--vflip', action='store_true')
    p.add_argument('--save-pts')   # accepted; no pts are written (read-time fallback)
    return p.parse_args(argv)


def main():
    argv = sys.argv[1:] + shlex.split(os.environ.get('FAKE_CAMERA_ARGS', ''))
    log = os.environ.get('FAKE_CAMERA_ARGV_LOG')
    if log:
        with open(log, 'w') as f:
            f.write('\n'.join(sys.argv[1:]) + '\n')
    args = parse(argv)
    if args.as_rpicam:
        required = (args.flush, args.time_ms == '0', args.nopreview, args.codec == 'yuv420',
                    args.inline, bool(args.output), args.camera is not None)
        if not all(required):
            print(f'fake rpicam-vid: unexpected command line {argv}', file=sys.stderr)
            return 2
    stride = args.stride or (-(-args.width // 64) * 64 if args.as_rpicam else args.width)
    if args.say:
        print(args.say, file=sys.stderr, flush=True)
    if args.fault == 'exit' and args.frames <= 0:
        return 1
    if args.fault == 'silent':
        while True:
            time.sleep(3600)
    if args.fault == 'noise':
        while True:
            sys.stdout.buffer.write(os.urandom(65536))
    # -o FILE as rpicam-vid's FileOutput: a FIFO's open waits for its reader.
    to_file = args.output not in (None, '-')
    out = open(args.output, 'wb') if to_file else sys.stdout.buffer  # noqa: SIM115
    frame0 = base_frame(args.width, args.height, stride)
    luma = stride * args.height
    chroma = (stride // 2) * (args.height // 2)
    start = time.monotonic()
    k = 0
    while True:
        if args.frames >= 0 and k == args.frames:
            break
        frame = (frame0[:luma].translate(shift_table(k, 'y'))
                 + frame0[luma:luma + chroma].translate(shift_table(k, 'u'))
                 + frame0[luma + chroma:].translate(shift_table(k, 'v')))
        out.write(frame)
        out.flush()
        k += 1
        if not args.unpaced:
            delay = start + k / args.framerate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    half = frame0[:len(frame0) // 2]
    if args.fault == 'stall':
        out.write(half)
        out.flush()
        while True:
            time.sleep(3600)
    if args.fault == 'truncate':
        out.write(half)
        out.flush()
        return 0
    if args.fault == 'die':
        out.write(half)
        out.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    if args.fault == 'exit':
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
