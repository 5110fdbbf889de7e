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

"""The stream through the real MediaMTX (scripts/get-mediamtx.sh), config/mediamtx.yml as shipped.

The binary is ``$MEDIAMTX``, the get-mediamtx.sh cache or ``mediamtx`` on PATH; without one these
tests skip, except in CI (``CI=true``) where they fail. Every test gives MediaMTX its own free
ports, so parallel runs do not meet.
"""

import contextlib
import ctypes
import errno
import os
from pathlib import Path
import shutil
import signal
import socket
import subprocess
import threading
import uuid

import numpy as np
from proctree import process_gone, wait_until
import pytest
from stream_fixtures import (
    frame_from_i420,
    free_server_ports,
    read_counter,
    require_mediamtx,
    scene_i420,
    stamp_counter,
)

from picam_ros.core.frames import FrameFormat
from picam_ros.stream.encoder import StreamConfig, StreamPublisher
from picam_ros.stream.mediamtx import MediaServer, MediaServerConfig, MediaServerUnavailable

pytestmark = pytest.mark.mediamtx

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


def read_frames(port: int, count: int, host: str = '127.0.0.1') -> list[int]:
    """Play the stream like a viewer would (RTSP over TCP) and return the decoded counters."""
    result = subprocess.run(
        ['ffmpeg', '-hide_banner', '-loglevel', 'error', '-rtsp_transport', 'tcp',
         '-i', f'rtsp://{host}:{port}/cam', '-frames:v', str(count),
         '-f', 'rawvideo', '-pix_fmt', 'yuv420p', 'pipe:1'],
        capture_output=True, timeout=GUARD, check=True)
    frames = np.frombuffer(result.stdout, np.uint8).reshape(-1, W * H * 3 // 2)
    return [read_counter(f[:W * H].reshape(H, W)) for f in frames]


def rtsp_request(port: int, source: str, method: str, path: str = 'cam') -> str:
    """Send one RTSP request from the local address ``source``; return the status line."""
    url = f'rtsp://127.0.0.1:{port}/{path}'
    headers = [f'{method} {url} RTSP/1.0', 'CSeq: 1']
    body = b''
    if method == 'ANNOUNCE':
        body = (b'v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=picam\r\nc=IN IP4 0.0.0.0\r\n'
                b't=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n'
                b'a=fmtp:96 packetization-mode=1\r\na=control:trackID=0\r\n')
        headers += ['Content-Type: application/sdp', f'Content-Length: {len(body)}']
    with socket.create_connection(('127.0.0.1', port), timeout=GUARD,
                                  source_address=(source, 0)) as sock:
        sock.sendall(('\r\n'.join(headers) + '\r\n\r\n').encode() + body)
        reply = b''
        while b'\r\n' not in reply:
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    return reply.split(b'\r\n', 1)[0].decode()


def listening_tcp_ports(pid: int) -> set[int]:
    """TCP ports on which process ``pid`` holds a listening socket (from /proc)."""
    return _ports_of(pid, ('/proc/net/tcp', '/proc/net/tcp6'), state='0A')   # 0A: LISTEN


def bound_udp_ports(pid: int) -> set[int]:
    """UDP ports to which process ``pid`` has bound a socket (from /proc)."""
    return _ports_of(pid, ('/proc/net/udp', '/proc/net/udp6'), state=None)


def _ports_of(pid: int, tables: tuple[str, ...], state: str | None) -> set[int]:
    inodes = set()
    for fd in Path(f'/proc/{pid}/fd').iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith('socket:['):
            inodes.add(target[8:-1])
    ports = set()
    for table in tables:
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if (state is None or fields[3] == state) and fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(':', 1)[1], 16))
    return ports


class NetworkNamespace:
    """A network namespace joined to this host by a veth pair: a second machine in miniature.

    The host end gets ``host``, the namespace end ``peer`` (198.18.0.0/15, the benchmarking
    range, so no real network is ever addressed).
    """

    def __init__(self) -> None:
        self.name = f'picam-{uuid.uuid4().hex[:8]}'
        third = os.getpid() % 250
        self.host, self.peer = f'198.18.{third}.1', f'198.18.{third}.2'
        self._veth = f'pv{uuid.uuid4().hex[:8]}'

    def __enter__(self) -> 'NetworkNamespace':  # noqa: PYI034 - typing.Self needs 3.11
        steps = [['ip', 'netns', 'add', self.name],
                 ['ip', 'link', 'add', self._veth, 'type', 'veth', 'peer', 'name', 'eth0',
                  'netns', self.name],
                 ['ip', 'addr', 'add', f'{self.host}/30', 'dev', self._veth],
                 ['ip', 'link', 'set', self._veth, 'up'],
                 self.command('ip', 'addr', 'add', f'{self.peer}/30', 'dev', 'eth0'),
                 self.command('ip', 'link', 'set', 'eth0', 'up'),
                 self.command('ip', 'link', 'set', 'lo', 'up')]
        for step in steps:
            result = subprocess.run(step, capture_output=True, text=True, timeout=GUARD,
                                    check=False)
            if result.returncode:
                self.__exit__()
                pytest.skip(f'cannot build a network namespace ({" ".join(step)}: '
                            f'{result.stderr.strip()})')
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.run(['ip', 'netns', 'del', self.name], capture_output=True, timeout=GUARD,
                       check=False)
        subprocess.run(['ip', 'link', 'del', self._veth], capture_output=True, timeout=GUARD,
                       check=False)

    def command(self, *argv: str) -> list[str]:
        return ['ip', 'netns', 'exec', self.name, *argv]


@pytest.fixture
def other_host():
    if os.geteuid() != 0 or shutil.which('ip') is None:
        pytest.skip('a publish from another host needs root and iproute2 (ip netns)')
    with NetworkNamespace() as namespace:
        yield namespace


def publish_test_pattern(url: str, prefix: list[str] | None = None) -> subprocess.CompletedProcess:
    """Publish two seconds of ffmpeg's test pattern to ``url`` (optionally inside a namespace)."""
    return subprocess.run(
        [*(prefix or []), 'ffmpeg', '-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi',
         '-i', 'testsrc=size=320x240:rate=25', '-t', '1', '-c:v', 'libx264', '-preset',
         'ultrafast', '-f', 'rtsp', '-rtsp_transport', 'tcp', url],
        capture_output=True, text=True, timeout=GUARD, check=False)


@pytest.fixture
def server_config() -> MediaServerConfig:
    return MediaServerConfig(mediamtx_path=require_mediamtx(), **free_server_ports())


def test_server_is_ready_when_start_returns(server_config):
    with MediaServer(server_config) as server:
        assert server.ready and server.state == 'ready'
        with socket.create_connection(('127.0.0.1', server_config.rtsp_port), timeout=GUARD):
            pass
        pid = server.pid
    assert process_gone(pid)


def test_frames_published_through_mediamtx_reach_a_viewer_in_order(server_config):
    port = server_config.rtsp_port
    with MediaServer(server_config) as server, \
            StreamPublisher(StreamConfig(rtsp_port=port), FrameFormat(W, H)) as pub, \
            Camera(pub):
        assert server.ready
        assert wait_until(lambda: pub.stats.connected, GUARD), pub.stats
        counters = read_frames(port, 10)
    assert len(counters) == 10
    assert -1 not in counters
    assert counters == sorted(counters)
    assert counters[-1] > counters[0]


def connections_to(pid: int, port: int) -> list[socket.socket]:
    """Duplicate process ``pid``'s TCP sockets connected to local ``port`` (pidfd_getfd)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd_getfd = 438   # the same number on every Linux architecture (new syscall table)
    found = []
    pidfd = os.pidfd_open(pid)
    try:
        for name in os.listdir(f'/proc/{pid}/fd'):
            with contextlib.suppress(OSError):
                if not os.readlink(f'/proc/{pid}/fd/{name}').startswith('socket:'):
                    continue
            copy = libc.syscall(pidfd_getfd, pidfd, int(name), 0)
            if copy < 0:
                error = ctypes.get_errno()
                if error in (errno.EPERM, errno.ENOSYS):
                    pytest.skip(f"reading another process's socket options needs pidfd_getfd "
                                f'(Linux >= 5.6, ptrace rights): {os.strerror(error)}')
                continue
            sock = socket.socket(fileno=copy)
            tcp = sock.family in (socket.AF_INET, socket.AF_INET6)
            if tcp and sock.type == socket.SOCK_STREAM:
                with contextlib.suppress(OSError):
                    if sock.getpeername()[1] == port:
                        found.append(sock)
                        continue
            sock.close()
    finally:
        os.close(pidfd)
    return found


def test_the_encoder_publishes_with_nagle_off(server_config):
    # With Nagle on, a frame's last packet can wait for the server's delayed ACK (40 ms):
    # see picam_ros.stream.tcp_nodelay.
    port = server_config.rtsp_port
    with MediaServer(server_config), \
            StreamPublisher(StreamConfig(rtsp_port=port), FrameFormat(W, H)) as pub, \
            Camera(pub):
        assert wait_until(lambda: pub.stats.connected and pub.stats.sent > 0, GUARD), pub.stats
        connections = connections_to(pub.encoder_pid, port)
        try:
            assert connections, 'the encoder has no TCP connection to the server'
            assert all(c.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for c in connections)
        finally:
            for c in connections:
                c.close()


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


def test_server_started_right_after_a_stop_serves_again(server_config):
    port = server_config.rtsp_port
    server = MediaServer(server_config)
    server.start()
    server.stop()
    server.start()   # 0 s after the stop: the original system failed here
    try:
        with StreamPublisher(StreamConfig(rtsp_port=port), FrameFormat(W, H)) as pub, \
                Camera(pub):
            assert wait_until(lambda: pub.stats.connected, GUARD), pub.stats
            assert len(read_frames(port, 3)) == 3
    finally:
        server.stop()


def test_twenty_start_stop_cycles_of_server_and_publisher_all_stream(server_config):
    port = server_config.rtsp_port
    server = MediaServer(server_config)
    pub = StreamPublisher(StreamConfig(rtsp_port=port), FrameFormat(W, H))
    streamed = 0
    for cycle in range(20):
        server.start()
        pub.start()
        with Camera(pub):
            assert wait_until(lambda: pub.stats.connected and pub.stats.sent > 0, GUARD), (
                cycle, pub.stats)
            streamed += 1
        pids = (server.pid, pub.encoder_pid)
        pub.stop()
        server.stop()
        assert all(process_gone(pid) for pid in pids), cycle
    assert streamed == 20


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


def test_second_server_on_a_busy_port_names_the_port(server_config):
    busy = f'rtsp port {server_config.rtsp_port} is already in use'
    with MediaServer(server_config), pytest.raises(MediaServerUnavailable, match=busy):
        MediaServer(server_config).start()


def test_busy_port_error_names_the_process_holding_it(server_config):
    with MediaServer(server_config) as holder:
        pid = holder.pid
        with pytest.raises(MediaServerUnavailable) as info:
            MediaServer(server_config).start()
    assert f'by mediamtx (pid {pid})' in str(info.value)


def test_busy_webrtc_udp_port_is_named_with_its_holder(server_config):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(('', server_config.webrtc_udp_port))
        with pytest.raises(MediaServerUnavailable) as info:
            MediaServer(server_config).start()
    message = str(info.value)
    assert f'webrtc media (UDP) port {server_config.webrtc_udp_port} is already in use' in message
    assert f'(pid {os.getpid()})' in message


def test_server_serves_on_the_configured_udp_ports(server_config):
    with MediaServer(server_config) as server:
        ports = bound_udp_ports(server.pid)
    assert {server_config.webrtc_udp_port, server_config.rtp_port,
            server_config.rtcp_port} <= ports


def test_mediamtx_writes_nothing_into_the_callers_directory(server_config, tmp_path,
                                                            monkeypatch):
    monkeypatch.chdir(tmp_path)
    with MediaServer(server_config) as server:
        workdir = Path(os.readlink(f'/proc/{server.pid}/cwd'))
        assert workdir != tmp_path
    assert list(tmp_path.iterdir()) == []
    assert not workdir.exists()


def rtsp_setup_status(port: int, transport: str) -> str:
    """Ask to read track 0 of /cam with ``transport``; return the status line."""
    url = f'rtsp://127.0.0.1:{port}/cam/trackID=0'
    with socket.create_connection(('127.0.0.1', port), timeout=GUARD) as sock:
        sock.sendall(f'SETUP {url} RTSP/1.0\r\nCSeq: 1\r\nTransport: {transport}\r\n\r\n'
                     .encode())
        reply = b''
        while b'\r\n' not in reply and (chunk := sock.recv(4096)):
            reply += chunk
    return reply.split(b'\r\n', 1)[0].decode()


def test_rtsp_readers_get_udp_or_tcp_but_not_multicast(server_config):
    port = server_config.rtsp_port
    with MediaServer(server_config), \
            StreamPublisher(StreamConfig(rtsp_port=port), FrameFormat(W, H)) as pub, \
            Camera(pub):
        assert wait_until(lambda: pub.stats.connected, GUARD), pub.stats
        multicast = rtsp_setup_status(port, 'RTP/AVP;multicast')
        udp = rtsp_setup_status(port, 'RTP/AVP;unicast;client_port=40000-40001')
        tcp = rtsp_setup_status(port, 'RTP/AVP/TCP;unicast;interleaved=0-1')
    assert multicast.endswith('461 Unsupported Transport'), multicast
    assert udp.endswith('200 OK') and tcp.endswith('200 OK'), (udp, tcp)


def test_no_moq_server_and_udp_only_on_the_configured_ports(server_config):
    expected = {server_config.webrtc_udp_port, server_config.rtp_port, server_config.rtcp_port}
    with MediaServer(server_config) as server:
        # Ready means RTSP accepts; WebRTC's UDP listener binds after it (seconds later under
        # arm64 emulation): wait for the configured ports before looking for others.
        wait_until(lambda: bound_udp_ports(server.pid) >= expected, timeout=15.0, interval=0.2)
        udp = bound_udp_ports(server.pid)
        tcp = listening_tcp_ports(server.pid)
    assert not {8892, 8893} & (udp | tcp)   # v1.19+'s MoQ (HTTP/3 + QUIC)
    assert udp == expected


def test_publishing_is_refused_from_an_address_other_than_127_0_0_1(server_config):
    port = server_config.rtsp_port
    with MediaServer(server_config):
        assert rtsp_request(port, '127.0.0.1', 'ANNOUNCE').endswith('200 OK')
        refused = rtsp_request(port, '127.0.0.2', 'ANNOUNCE', path='other')
    assert refused.split()[1] in ('401', '403'), refused


def test_reading_is_allowed_from_an_address_other_than_127_0_0_1(server_config):
    port = server_config.rtsp_port
    with MediaServer(server_config), \
            StreamPublisher(StreamConfig(rtsp_port=port), FrameFormat(W, H)) as pub, \
            Camera(pub):
        assert wait_until(lambda: pub.stats.connected, GUARD), pub.stats
        assert rtsp_request(port, '127.0.0.2', 'DESCRIBE').endswith('200 OK')
        assert len(read_frames(port, 3, host='127.0.0.2')) == 3


def test_server_listens_only_on_its_stream_ports_so_no_control_api(server_config):
    with MediaServer(server_config) as server:
        ports = listening_tcp_ports(server.pid)
    assert ports == {server_config.rtsp_port, server_config.webrtc_port,
                     server_config.hls_port}


def test_publishing_from_another_host_is_refused_and_from_localhost_accepted(
        server_config, other_host):
    port = server_config.rtsp_port
    with MediaServer(server_config):
        remote = publish_test_pattern(f'rtsp://{other_host.host}:{port}/remote',
                                      other_host.command())
        local = publish_test_pattern(f'rtsp://127.0.0.1:{port}/local')
    assert remote.returncode != 0
    assert '401' in remote.stderr or 'Unauthorized' in remote.stderr, remote.stderr
    assert local.returncode == 0, local.stderr


def test_reading_from_another_host_is_allowed(server_config, other_host):
    port = server_config.rtsp_port
    with MediaServer(server_config), \
            StreamPublisher(StreamConfig(rtsp_port=port), FrameFormat(W, H)) as pub, \
            Camera(pub):
        assert wait_until(lambda: pub.stats.connected, GUARD), pub.stats
        result = subprocess.run(
            other_host.command('ffmpeg', '-hide_banner', '-loglevel', 'error',
                               '-rtsp_transport', 'tcp', '-i',
                               f'rtsp://{other_host.host}:{port}/cam', '-frames:v', '3',
                               '-f', 'rawvideo', '-pix_fmt', 'yuv420p', 'pipe:1'),
            capture_output=True, timeout=GUARD, check=True)
    frames = np.frombuffer(result.stdout, np.uint8).reshape(-1, W * H * 3 // 2)
    counters = [read_counter(f[:W * H].reshape(H, W)) for f in frames]
    assert len(counters) == 3 and -1 not in counters
