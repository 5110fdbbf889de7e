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

"""Live-stream costs: encoder throughput, capture-thread cost, and capture -> viewer latency.

Run: ``python bench/stream.py`` (options: ``--seconds 6 --sizes 1024 1920 --repeats 3``).

Everything runs on loopback with real ffmpeg processes. The peer, measured in the same run, is
the original system's way of streaming: the capture loop writing each frame straight into
ffmpeg's stdin (a blocking write), with the same ffmpeg command.

1. Encoder throughput (frames/s) at each size, best of two interleaved runs:
   ``StreamPublisher`` kept busy (its queue never empty) versus the direct blocking pipe.
   The receiver copies the stream without decoding (``ffmpeg -rtsp_flags listen ... -c copy
   -f null``) so it costs little CPU.
2. Capture-thread time per frame at 25 fps, after a warm-up: ``submit()`` (a copy into a
   pooled buffer) versus the direct ``write()`` that waits for ffmpeg; and the time each frame
   spends between capture and the last byte written into ffmpeg's stdin
   (``StreamPublisher.write_latencies_ms``).
3. Capture -> decoded-at-receiver latency at 1280x720@30 from the synthetic source, frames
   matched by the sequence number it stamps into the pixels. Receivers: an ffmpeg RTSP
   listener decoding to rawvideo (like any ffmpeg/VLC viewer; ffmpeg's H.264 parser holds each
   frame until the next one starts, i.e. one frame period) and a minimal RTSP sink that
   timestamps the last RTP packet of each frame, which is what MediaMTX forwards to a WebRTC
   browser without waiting. Goal: p50 < 100 ms.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import threading
import time

import numpy as np

from picam_ros.core.frames import Frame, FrameFormat
from picam_ros.core.process import ManagedProcess, ProcessSpec, tcp_port_listening
from picam_ros.sources.synthetic import (
    decode_sequence,
    encode_sequence,
    SyntheticConfig,
    SyntheticSource,
)
from picam_ros.stream.encoder import encoder_argv, StreamConfig, StreamPublisher
from picam_ros.stream.tcp_nodelay import find_library, preload_env

GOAL_P50_MS = 100.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def pct(values, q) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else \
        float('nan')


# -- receivers ----------------------------------------------------------------------------------

class FfmpegReceiver:
    """``ffmpeg -rtsp_flags listen``: either copy to null, or decode and timestamp each frame."""

    def __init__(self, port: int, fmt: FrameFormat | None = None) -> None:
        self.fmt = fmt
        self.arrivals: dict[int, int] = {}
        out = (['-c', 'copy', '-f', 'null', '-'] if fmt is None else
               ['-fps_mode', 'passthrough', '-flush_packets', '1', '-f', 'rawvideo',
                '-pix_fmt', 'yuv420p', 'pipe:1'])
        self.process = ManagedProcess(ProcessSpec(
            name='bench-receiver', stdout_pipe=fmt is not None, ready_timeout=10,
            ready=lambda: tcp_port_listening(port),
            argv=['ffmpeg', '-hide_banner', '-nostats', '-rtsp_flags', 'listen',
                  '-flags', 'low_delay', '-threads', '1', '-analyzeduration', '0',
                  '-probesize', '32', '-i', f'rtsp://127.0.0.1:{port}/cam', *out]))
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FfmpegReceiver:  # noqa: PYI034 - typing.Self needs 3.11
        self.process.start()
        if self.fmt is not None:
            self._thread = threading.Thread(target=self._read, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _read(self) -> None:
        w, h = self.fmt.width, self.fmt.height
        buf = np.empty(w * h * 3 // 2, np.uint8)
        view = memoryview(buf)
        stdout = self.process.stdout
        while True:
            got = 0
            while got < len(view):
                try:
                    n = stdout.readinto(view[got:])
                except (ValueError, OSError):   # stop() closed the pipe under us: the end
                    return
                if not n:
                    return
                got += n
            now = time.monotonic_ns()
            try:
                self.arrivals.setdefault(decode_sequence(buf[:w * h].reshape(h, w)), now)
            except ValueError:
                pass


class RtpSink:
    """A minimal RTSP server accepting one ffmpeg publisher (RTP interleaved over TCP).

    Records when the last RTP packet (marker bit) of each frame arrives, keyed by the frame's
    index in the encoder's input (from the 90 kHz RTP timestamp).
    """

    def __init__(self, port: int, fps: float) -> None:
        self.fps = fps
        self.arrivals: dict[int, int] = {}
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(('127.0.0.1', port))
        self._listener.listen(1)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> RtpSink:  # noqa: PYI034 - typing.Self needs 3.11
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.close()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except OSError:
            return
        with conn, conn.makefile('rb') as stream:
            first_ts = None
            while True:
                try:
                    head = stream.read(1)
                except OSError:   # the publisher was killed rather than sending TEARDOWN
                    return
                if not head:
                    return
                if head == b'$':
                    channel, size = stream.read(1)[0], int.from_bytes(stream.read(2), 'big')
                    packet = stream.read(size)
                    if channel != 0 or len(packet) < 12 or not packet[1] & 0x80:
                        continue
                    now = time.monotonic_ns()
                    ts = int.from_bytes(packet[4:8], 'big')
                    first_ts = ts if first_ts is None else first_ts
                    index = round(((ts - first_ts) % 2**32) * self.fps / 90000)
                    self.arrivals.setdefault(index, now)
                    continue
                self._answer(conn, stream, head)

    @staticmethod
    def _answer(conn: socket.socket, stream, head: bytes) -> None:
        lines = [head + stream.readline()]
        while lines[-1].strip():
            lines.append(stream.readline())
        request = lines[0].split()[0].decode()
        headers = {}
        for line in lines[1:]:
            key, _, value = line.decode().partition(':')
            headers[key.strip().lower()] = value.strip()
        if 'content-length' in headers:
            stream.read(int(headers['content-length']))
        extra = ''
        if request == 'OPTIONS':
            extra = 'Public: OPTIONS, ANNOUNCE, SETUP, RECORD, TEARDOWN\r\n'
        elif request == 'SETUP':
            extra = f'Transport: {headers.get("transport", "")}\r\nSession: 1\r\n'
        elif request == 'RECORD':
            extra = 'Session: 1\r\n'
        conn.sendall(f'RTSP/1.0 200 OK\r\nCSeq: {headers.get("cseq", "0")}\r\n{extra}\r\n'
                     .encode())


# -- producers ----------------------------------------------------------------------------------

class DirectPipe:
    """The peer: the capture thread writes each frame into ffmpeg's stdin and waits."""

    def __init__(self, config: StreamConfig, fmt: FrameFormat, new_session: bool = False,
                 nodelay: bool = False) -> None:
        # new_session: ffmpeg in a session (so a scheduling autogroup) of its own, to show
        # what that costs (bench/browser_latency.py --session-peer). nodelay: ffmpeg with
        # Nagle off as StreamPublisher runs it (picam_ros.stream.tcp_nodelay), for a like-for-like
        # peer; the original design had it on.
        env = None
        if nodelay:
            extra = preload_env(find_library())
            if not extra:
                raise SystemExit('--peer-nodelay: picam_ros._tcp_nodelay is not built')
            env = {**os.environ, **extra}
        self.proc = subprocess.Popen(encoder_argv(config, fmt), stdin=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, bufsize=0,
                                     start_new_session=new_session, env=env)
        self.sent = 0
        self.write_ms: list[float] = []

    def submit(self, frame: Frame) -> None:
        t0 = time.perf_counter()
        self.proc.stdin.write(frame.data)
        self.write_ms.append((time.perf_counter() - t0) * 1e3)
        self.sent += 1

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def stamped_frame(size: int) -> Frame:
    fmt = FrameFormat(size, size)
    frame = Frame(fmt)
    yy, xx = np.mgrid[0:size, 0:size]
    frame.y[...] = (40 + 120 * xx / size + 60 * yy / size).astype(np.uint8)
    frame.data[size * size:] = 128
    return frame


def throughput(size: int, seconds: float) -> tuple[float, float]:
    """Frames/s encoded by StreamPublisher (kept busy) and by the direct pipe."""
    frame = stamped_frame(size)
    config = StreamConfig(rtsp_port=free_port(), fps=25)
    with FfmpegReceiver(config.rtsp_port), StreamPublisher(config, frame.format) as pub:
        idle = threading.Event()
        index = 0

        def run_for(duration: float) -> int:
            nonlocal index
            end = time.monotonic() + duration
            sent0 = pub.stats.sent
            while time.monotonic() < end:
                if pub.queued < config.queue_size:
                    encode_sequence(frame.y, index)
                    frame.mono_ns = time.monotonic_ns()
                    pub.submit(frame)
                    index += 1
                else:
                    idle.wait(0.002)
            return pub.stats.sent - sent0

        run_for(1.0)   # warm-up: connection, first keyframes
        publisher_fps = run_for(seconds) / seconds
    config = StreamConfig(rtsp_port=free_port(), fps=25)
    with FfmpegReceiver(config.rtsp_port):
        direct = DirectPipe(config, frame.format)
        try:
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                direct.submit(frame)
            sent0, end = direct.sent, time.monotonic() + seconds
            while time.monotonic() < end:
                encode_sequence(frame.y, direct.sent)
                direct.submit(frame)
            direct_fps = (direct.sent - sent0) / seconds
        finally:
            direct.close()
    return publisher_fps, direct_fps


def paced_costs(size: int, seconds: float, fps: float = 25.0) -> dict[str, object]:
    """At a camera's pace: capture-thread time per frame and capture -> stdin latency."""
    frame = stamped_frame(size)
    period = 1.0 / fps
    result: dict[str, object] = {}
    config = StreamConfig(rtsp_port=free_port(), fps=fps)
    with FfmpegReceiver(config.rtsp_port), StreamPublisher(config, frame.format) as pub:
        submit_ms = []
        tick = threading.Event()
        while not pub.stats.connected:   # warm-up: encoder start and RTSP session
            frame.mono_ns = time.monotonic_ns()
            pub.submit(frame)
            tick.wait(period)
        tick.wait(0.5)
        sent0, dropped0 = pub.stats.sent, pub.stats.dropped
        start = time.monotonic()
        for index in range(int(seconds * fps)):
            tick.wait(max(0.0, start + index * period - time.monotonic()))
            encode_sequence(frame.y, index)
            frame.mono_ns = time.monotonic_ns()
            t0 = time.perf_counter()
            pub.submit(frame)
            submit_ms.append((time.perf_counter() - t0) * 1e3)
        tick.wait(0.5)
        result['submit_ms'] = submit_ms
        measured = pub.stats.sent - sent0
        result['stdin_ms'] = pub.write_latencies_ms()[-measured:] if measured else []
        result['dropped'] = pub.stats.dropped - dropped0
    config = StreamConfig(rtsp_port=free_port(), fps=fps)
    with FfmpegReceiver(config.rtsp_port):
        direct = DirectPipe(config, frame.format)
        try:
            tick = threading.Event()
            for _ in range(int(fps)):   # warm-up: one second
                direct.submit(frame)
                tick.wait(period)
            direct.write_ms.clear()
            start = time.monotonic()
            for index in range(int(seconds * fps)):
                tick.wait(max(0.0, start + index * period - time.monotonic()))
                encode_sequence(frame.y, index)
                direct.submit(frame)
        finally:
            direct.close()
        result['direct_write_ms'] = direct.write_ms
    return result


def end_to_end(seconds: float, receiver: str, producer: str = 'publisher',
               width: int = 1280, height: int = 720, fps: float = 30.0) -> dict[str, object]:
    """Capture (synthetic source, paced) -> receiver latency per matched frame (ms).

    The first second (encoder start, RTSP handshake, first keyframe) is a warm-up and is not
    measured; the rest is steady state.
    """
    source = SyntheticSource(SyntheticConfig(width=width, height=height, fps=fps, noise=0))
    config = StreamConfig(rtsp_port=free_port(), fps=fps)
    captured: list[tuple[int, int]] = []   # (sequence, capture mono_ns) in submission order
    recv = (FfmpegReceiver(config.rtsp_port, source.format) if receiver == 'ffmpeg' else
            RtpSink(config.rtsp_port, fps))
    with recv:
        if producer == 'publisher':
            sink = StreamPublisher(config, source.format)
            sink.start()
        else:
            sink = DirectPipe(config, source.format)
        source.start()
        try:
            warm_up = time.monotonic() + 1.0
            while time.monotonic() < warm_up or not recv.arrivals:
                sink.submit(source.read(timeout=1.0))
            warm_up = time.monotonic() + 0.5   # the receiver catches up with its start backlog
            while time.monotonic() < warm_up:
                sink.submit(source.read(timeout=1.0))
            if isinstance(sink, StreamPublisher):
                # Nothing queued or being written: sent == frames the encoder got so far.
                while sink.stats.sent + sink.stats.dropped < sink.stats.submitted:
                    threading.Event().wait(0.001)
                base, dropped0 = sink.stats.sent, sink.stats.dropped
            else:
                base, dropped0 = sink.sent, 0
            drops0 = source.stats.drops
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                frame = source.read(timeout=1.0)
                captured.append((frame.sequence, frame.mono_ns))
                sink.submit(frame)
            # Keep the stream going unmeasured: a receiver holds the newest frames until the
            # next ones arrive, so the measured ones must be followed by more.
            end = time.monotonic() + 0.5
            while time.monotonic() < end:
                sink.submit(source.read(timeout=1.0))
        finally:
            source.stop()
            if isinstance(sink, StreamPublisher):
                dropped = sink.stats.dropped - dropped0
                sink.stop()
            else:
                dropped = 0
                sink.close()
    if receiver == 'ffmpeg':
        latencies = [(recv.arrivals[seq] - t) / 1e6 for seq, t in captured
                     if seq in recv.arrivals]
    else:   # RTP frames are numbered by encoder input order: exact only without drops
        latencies = [(recv.arrivals[base + i] - t) / 1e6 for i, (_, t) in enumerate(captured)
                     if base + i in recv.arrivals] if dropped == 0 else []
    stdin_ms = sink.write_latencies_ms()[-len(captured):] if isinstance(
        sink, StreamPublisher) else np.array(sink.write_ms[-len(captured):])
    return {'latency_ms': latencies, 'frames': len(captured), 'dropped': dropped,
            'stdin_ms': stdin_ms,
            'source_drops': source.stats.drops - drops0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seconds', type=float, default=6.0, help='length of each run')
    parser.add_argument('--sizes', type=int, nargs='+', default=[1024, 1920])
    parser.add_argument('--repeats', type=int, default=3, help='latency runs per path')
    args = parser.parse_args()
    version = subprocess.run(['ffmpeg', '-version'], capture_output=True, text=True, check=True)
    print(f'ffmpeg: {version.stdout.splitlines()[0]}')
    print(f'cpus: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.2f}')
    print('x264: -preset ultrafast -tune zerolatency -profile:v baseline -bf 0, CRF 23\n')

    print('1. encoder throughput, frames/s (receiver copies, does not decode)')
    print(f'   {"size":>10} {"StreamPublisher":>16} {"direct pipe (peer)":>19} {"ratio":>6}')
    for size in args.sizes:
        # Interleaved repeats, best of each: the machine is shared, the best run is the one
        # least disturbed by others.
        results = [throughput(size, args.seconds / 2) for _ in range(2)]
        ours, peer = max(r[0] for r in results), max(r[1] for r in results)
        print(f'   {size:>4}x{size:<5} {ours:>16.1f} {peer:>19.1f} {ours / peer:>6.2f}')

    print('\n2. at 25 fps: capture-thread time per frame and capture -> encoder stdin (ms)')
    print(f'   {"size":>10} {"submit() p50/max":>17} {"direct write p50/max":>21} '
          f'{"ratio p50":>9} {"capture->stdin p50/p95/max":>27} {"drops":>5}')
    for size in args.sizes:
        r = paced_costs(size, args.seconds)
        sub, direct, stdin = r['submit_ms'], r['direct_write_ms'], r['stdin_ms']
        print(f'   {size:>4}x{size:<5} {pct(sub, 50):>8.2f}/{max(sub):<8.2f} '
              f'{pct(direct, 50):>10.2f}/{max(direct):<10.2f} '
              f'{pct(direct, 50) / pct(sub, 50):>9.1f} '
              f'{pct(stdin, 50):>10.1f}/{pct(stdin, 95):.1f}/{max(stdin):<8.1f} '
              f'{r["dropped"]:>5}')

    print(f'\n3. capture -> receiver latency at 1280x720@30, synthetic source (ms); '
          f'{args.repeats} interleaved repeats, percentiles over all of them')
    print(f'   {"path":<50} {"p50":>6} {"p90":>6} {"p99":>6} {"max":>6} {"frames":>9}'
          f'  {"p50 per repeat":<20} {"stdin p50":>9} {"drops":>5}')
    rows = [('StreamPublisher -> ffmpeg listener, decoded', 'ffmpeg', 'publisher'),
            ('direct pipe (peer) -> ffmpeg listener, decoded', 'ffmpeg', 'direct'),
            ('StreamPublisher -> last RTP packet at RTSP sink', 'rtp', 'publisher')]
    runs: dict[str, list[dict[str, object]]] = {label: [] for label, _, _ in rows}
    for _ in range(args.repeats):
        for label, receiver, producer in rows:
            runs[label].append(end_to_end(args.seconds, receiver, producer))
    p50 = {}
    for label, _, _ in rows:
        lat = [v for r in runs[label] for v in r['latency_ms']]
        frames = sum(r['frames'] for r in runs[label])
        drops = sum(r['dropped'] + r['source_drops'] for r in runs[label])
        stdin = [v for r in runs[label] for v in r['stdin_ms']]
        per_repeat = '/'.join(f'{pct(r["latency_ms"], 50):.0f}' for r in runs[label])
        p50[label] = pct(lat, 50)
        print(f'   {label:<50} {pct(lat, 50):>6.1f} {pct(lat, 90):>6.1f} {pct(lat, 99):>6.1f} '
              f'{max(lat) if lat else float("nan"):>6.1f} {len(lat):>4}/{frames:<4}'
              f'  {per_repeat:<20} {pct(stdin, 50):>9.1f} {drops:>5}')
    ours = p50[rows[0][0]]
    print(f'\n   p50 ratio StreamPublisher / direct pipe: {ours / p50[rows[1][0]]:.2f}')
    print(f'   goal p50 < {GOAL_P50_MS:.0f} ms (decoded at receiver): '
          f'{"met" if ours < GOAL_P50_MS else "NOT met"} ({ours:.1f} ms)')
    print(f'   load average at end: {os.getloadavg()[0]:.2f}')


if __name__ == '__main__':
    main()
