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

"""Helpers shared by the process and streaming tests (real processes, real ports)."""

from __future__ import annotations

import os
from pathlib import Path
import random
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from picam_ros.core.frames import Frame, FrameFormat
from picam_ros.core.process import ManagedProcess, ProcessError, ProcessSpec, tcp_port_listening
from picam_ros.sources.synthetic import decode_sequence, encode_sequence

FAKE_MEDIAMTX = """
    import os, socket, sys, time
    config = sys.argv[1]
    if not os.path.isfile(config):
        print(f'ERR: open {config}: no such file or directory', flush=True)
        sys.exit(1)
    if os.environ.get('FAKE_FAIL'):
        print('2024/01/01 00:00:00 ERR ' + os.environ['FAKE_FAIL'], flush=True)
        sys.exit(1)
    def port(name):
        return int(os.environ[f'MTX_{name}ADDRESS'].rsplit(':', 1)[1])
    time.sleep(float(os.environ.get('FAKE_DELAY', '0.3')))
    # Every listener the real server opens, in its order (RTSP first, WebRTC's UDP last);
    # FAKE_SKIP names one left closed.
    opened = []
    for name, kind in (('RTSP', socket.SOCK_STREAM), ('RTP', socket.SOCK_DGRAM),
                       ('RTCP', socket.SOCK_DGRAM), ('HLS', socket.SOCK_STREAM),
                       ('WEBRTC', socket.SOCK_STREAM), ('WEBRTCLOCALUDP', socket.SOCK_DGRAM)):
        if name == os.environ.get('FAKE_SKIP'):
            continue
        sock = socket.socket(socket.AF_INET, kind)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(('', port(name)))
        if kind == socket.SOCK_STREAM:
            sock.listen()
        opened.append(sock)
    print(f'2024/01/01 00:00:00 INF [RTSP] listener opened on :{port("RTSP")} (TCP)', flush=True)
    while True:
        opened[0].accept()[0].close()
    """


def write_fake_mediamtx(directory: Path) -> str:
    """Write an executable fake MediaMTX into ``directory``; return its path."""
    path = directory / 'mediamtx'
    path.write_text(f'#!{sys.executable}\n' + textwrap.dedent(FAKE_MEDIAMTX))
    path.chmod(0o755)
    return str(path)


class _PortAllocator:
    """Hand out ports outside the kernel's ephemeral range, each at most once per process.

    A port found free by binding port 0 comes *from* the ephemeral range, where the kernel also
    picks the local end of every outgoing connection: between a test's pick and its child's
    bind, a connection of another run could take it (CI under load: "hls port 53149 is already
    in use", the runner's start-up test, 2 of 3 passes). Below that range ports are only bound
    on purpose; handing each out once keeps this process's concurrent runs apart, a start at a
    pid-seeded offset keeps test processes apart, a bind test skips a port in use, and the ports
    of this process's DDS domain are never handed out.
    """

    def __init__(self) -> None:
        try:
            low, high = map(int, Path('/proc/sys/net/ipv4/ip_local_port_range').read_text()
                            .split())
        except (OSError, ValueError):
            low, high = 32768, 60999
        self._first, self._last = (10000, low - 1) if low > 12000 else (high + 1, 65534)
        self._next = random.Random(os.getpid()).randrange(self._first, self._last)
        self._lock = threading.Lock()

    def take(self, kind: int, count: int = 1) -> int:
        """Return the first of ``count`` consecutive free ports (``count`` 2: an even first)."""
        with self._lock:
            for _ in range(self._last - self._first):
                port = self._next + (self._next % count)
                if port + count - 1 > self._last:
                    port = self._first + (self._first % count)
                self._next = port + count
                candidates = range(port, port + count)
                if (not any(candidate in _dds_ports() for candidate in candidates)
                        and all(_bindable(kind, candidate) for candidate in candidates)):
                    return port
        raise RuntimeError(f'no free port in {self._first}..{self._last}')


def _dds_ports() -> range:
    """Return the UDP ports DDS uses on this process's ROS domain (RTPS: 7400 + 250 x domain).

    A node started after the pick must not find its discovery or user port taken.
    """
    domain = int(os.environ.get('ROS_DOMAIN_ID') or 0)
    return range(7400 + 250 * domain, 7400 + 250 * (domain + 1))


def _bindable(kind: int, port: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as servers bind
        try:
            probe.bind(('', port))
        except OSError:
            return False
    return True


#: The one allocator of this test process (see :class:`_PortAllocator`).
PORTS = _PortAllocator()


def free_tcp_port() -> int:
    """Return a TCP port free now that no other caller in this process is given."""
    return PORTS.take(socket.SOCK_STREAM)


def free_udp_port(pair: bool = False) -> int:
    """Return a free UDP port (with ``pair``: an even port whose next is free, for RTP/RTCP)."""
    return PORTS.take(socket.SOCK_DGRAM, 2 if pair else 1)


# -- the real MediaMTX (scripts/get-mediamtx.sh) -------------------------------------------------

REPO = Path(__file__).resolve().parent.parent
GET_MEDIAMTX = REPO / 'scripts' / 'get-mediamtx.sh'


def find_mediamtx() -> str | None:
    """Find the MediaMTX binary: ``$MEDIAMTX``, the get-mediamtx.sh cache, then PATH."""
    configured = os.environ.get('MEDIAMTX')
    if configured:
        return configured
    with_cache = subprocess.run(['bash', str(GET_MEDIAMTX), '--print-path'], check=False,
                                capture_output=True, text=True).stdout.strip()
    if with_cache and os.access(with_cache, os.X_OK):
        return with_cache
    return shutil.which('mediamtx')


def require_mediamtx() -> str:
    """Return the MediaMTX binary; skip without it, but fail in CI (``CI=true``)."""
    binary = find_mediamtx()
    if binary is None:
        message = ('needs MediaMTX: run scripts/get-mediamtx.sh (or set $MEDIAMTX to a '
                   'mediamtx binary)')
        if os.environ.get('CI', '').lower() in ('true', '1', 'yes'):
            pytest.fail(f'CI: {message}', pytrace=False)
        pytest.skip(message)
    return binary


def free_server_ports() -> dict[str, int]:
    """Free ports for every MediaServerConfig port field, TCP and UDP."""
    return {'rtsp_port': free_tcp_port(), 'webrtc_port': free_tcp_port(),
            'hls_port': free_tcp_port(), 'webrtc_udp_port': free_udp_port(),
            'rtp_port': free_udp_port(pair=True)}


def runner_stream_flags(mediamtx: str) -> list[str]:
    """``picam-ros`` flags that stream through ``mediamtx`` on free ports."""
    ports = free_server_ports()
    return ['--stream', 'on', '--stream-mediamtx-path', mediamtx,
            *(flag for field, port in ports.items()
              for flag in (f'--stream-{field.removesuffix("_port").replace("_", "-")}-port',
                           str(port)))]


# -- synthetic frames with a stamped counter -----------------------------------------------------

def stamp_counter(y: np.ndarray, value: int) -> None:
    """Stamp ``value`` into the top rows of a luma plane (the synthetic source's code)."""
    encode_sequence(y, value)


def read_counter(y: np.ndarray) -> int:
    """Decode :func:`stamp_counter` from a decoded (lossy) luma plane; -1 when unreadable."""
    try:
        return decode_sequence(y)
    except ValueError:
        return -1


def scene_i420(width: int, height: int, index: int) -> np.ndarray:
    """Draw a packed I420 picture: smooth gradients, a moving bright pad, stamped ``index``."""
    yy, xx = np.mgrid[0:height, 0:width]
    y = (40 + 120 * xx / width + 60 * yy / height).astype(np.uint8)
    side = max(8, height // 8)
    px = (index * 5) % max(1, width - side)
    py = height // 2
    y[py:py + side, px:px + side] = 235
    stamp_counter(y, index)
    cy, cx = np.mgrid[0:height // 2, 0:width // 2]
    u = (90 + 60 * cx / (width // 2)).astype(np.uint8)
    v = (160 - 50 * cy / (height // 2)).astype(np.uint8)
    return np.concatenate([y.ravel(), u.ravel(), v.ravel()])


def frame_from_i420(packed: np.ndarray, fmt: FrameFormat, index: int = 0) -> Frame:
    """Lay a packed I420 picture out as ``fmt`` describes (layout and row stride)."""
    w, h, s = fmt.width, fmt.height, fmt.row_stride
    y = packed[:w * h].reshape(h, w)
    u = packed[w * h:w * h * 5 // 4].reshape(h // 2, w // 2)
    v = packed[w * h * 5 // 4:].reshape(h // 2, w // 2)
    data = np.zeros(fmt.frame_bytes, dtype=np.uint8)
    data[:s * h].reshape(h, s)[:, :w] = y
    rest = data[s * h:]
    if fmt.layout == 'i420':
        cs = s // 2
        plane = cs * (h // 2)
        rest[:plane].reshape(h // 2, cs)[:, :w // 2] = u
        rest[plane:2 * plane].reshape(h // 2, cs)[:, :w // 2] = v
    elif fmt.layout in ('nv12', 'nv21'):
        uv = rest.reshape(h // 2, s)[:, :w].reshape(h // 2, w // 2, 2)
        first, second = (u, v) if fmt.layout == 'nv12' else (v, u)
        uv[..., 0], uv[..., 1] = first, second
    return Frame(fmt, data, stamp_ns=time.time_ns(), mono_ns=time.monotonic_ns(), sequence=index)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float('inf') if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


# -- an RTSP receiver standing in for MediaMTX --------------------------------------------------

class RtspReceiver:
    """``ffmpeg -rtsp_flags listen`` decoding what is published to it into yuv420p frames.

    It accepts one publisher session and ends when that publisher leaves; with
    ``auto_restart`` it listens again (for encoder-restart tests). Decoded frames are read by a
    thread; ``counters`` holds the stamped counter of each, ``frames`` the first ``keep`` ones.
    """

    def __init__(self, port: int, path: str, width: int, height: int, keep: int = 0,
                 auto_restart: bool = False, ffmpeg: str = 'ffmpeg') -> None:
        self.width, self.height, self.keep = width, height, keep
        self.frame_bytes = width * height * 3 // 2
        self.counters: list[int] = []
        self.arrivals_ns: list[int] = []
        self.frames: list[np.ndarray] = []
        self.sessions = 0
        self.auto_restart = auto_restart
        self._stopping = threading.Event()
        self.process = ManagedProcess(ProcessSpec(
            name='rtsp-receiver',
            argv=[ffmpeg, '-hide_banner', '-nostats', '-loglevel', 'info',
                  '-rtsp_flags', 'listen', '-flags', 'low_delay', '-threads', '1',
                  '-analyzeduration', '0', '-probesize', '32',
                  '-i', f'rtsp://127.0.0.1:{port}/{path}',
                  '-fps_mode', 'passthrough', '-flush_packets', '1', '-f', 'rawvideo',
                  '-pix_fmt', 'yuv420p',
                  'pipe:1'],
            stdout_pipe=True, ready=lambda: tcp_port_listening(port), ready_timeout=10,
            backoff_initial=0.01, backoff_max=0.05, stop_timeout=1.0))
        self._thread: threading.Thread | None = None

    def start(self) -> RtspReceiver:
        self.process.start()
        self._thread = threading.Thread(target=self._run, name='rtsp-receiver', daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None and not self.process.is_alive():
            # It ended by itself: let the reader drain the pipe before stop() closes it.
            self._thread.join(timeout=10)
        self.process.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> RtspReceiver:  # noqa: PYI034 - typing.Self needs 3.11
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        buf = np.empty(self.frame_bytes, dtype=np.uint8)
        while not self._stopping.is_set():
            self.sessions += 1
            stdout = self.process.stdout
            while stdout is not None and _read_exact(stdout, buf):
                self.arrivals_ns.append(time.monotonic_ns())
                y = buf[:self.width * self.height].reshape(self.height, self.width)
                self.counters.append(read_counter(y))
                if len(self.frames) < self.keep:
                    self.frames.append(buf.copy())
            if not self.auto_restart or self._stopping.is_set():
                return
            try:
                if not self.process.restart('publisher left'):
                    return
            except ProcessError:
                continue


def _read_exact(stream, buf: np.ndarray) -> bool:
    view = memoryview(buf)
    got = 0
    while got < len(view):
        try:
            n = stream.readinto(view[got:])
        except (OSError, ValueError):
            return False
        if not n:
            return False
        got += n
    return True
