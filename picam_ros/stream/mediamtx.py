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

"""MediaMTX, the RTSP -> WebRTC relay: its settings, and a server started and supervised here.

``MediaServer`` runs MediaMTX (or, in external mode, only watches an already running one) and
restarts it if it dies. A start checks the ports first (a busy one is named with the process
holding it, when this user can see it) and returns only once the server accepts connections; a
stop returns only once it is gone, so a restart right after a stop works. MediaMTX is configured
with ``overridePublisher`` so a stale publisher session never blocks a new one.

The ports and the switches that only some MediaMTX releases know are given through its ``MTX_*``
environment variables (a release ignores a variable it does not know, but refuses an unknown key
in its YAML), so ``config/mediamtx.yml`` loads in every release from v1.8 (the original
system's) to v1.20. MediaMTX runs in a private temporary directory: anything it writes relative
to its working directory (v1.19+ generates ``auto.key``/``auto.crt`` there for servers left on)
never lands in the caller's directory.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
import errno
import logging
import os
from pathlib import Path
import re
import shutil
import socket
import sys
import tempfile
import threading

from picam_ros.core.config import config_field, ConfigError
from picam_ros.core.process import (
    find_executable,
    ManagedProcess,
    ProcessError,
    ProcessSpec,
    ProcessStopped,
    server_probe,
    tcp_port_accepts,
)
from picam_ros.stream.rtsp_link import RestartBackoff, RtspEndpoint

__all__ = [
    'MediaServer',
    'MediaServerConfig',
    'MediaServerUnavailable',
    'default_mediamtx_config',
    'find_mediamtx',
    'mediamtx_cache',
    'port_holder',
]


class MediaServerUnavailable(RuntimeError):
    """MediaMTX cannot be used (binary missing, config missing, port taken, or it fails to start).

    The caller keeps running without a live stream.
    """


def default_mediamtx_config() -> Path:
    """Find the MediaMTX config shipped with picam_ros.

    Looked up in the installed share directory (ament index, then the Python prefix) and in the
    source tree, so it is found in a colcon install, a pip install and a checkout.
    """
    candidates: list[Path] = []
    with contextlib.suppress(ImportError, LookupError, ValueError, OSError):
        from ament_index_python.packages import get_package_share_directory
        candidates.append(Path(get_package_share_directory('picam_ros')) / 'config')
    candidates.append(Path(sys.prefix) / 'share' / 'picam_ros' / 'config')
    candidates.append(Path(__file__).resolve().parents[2] / 'config')
    for directory in candidates:
        path = directory / 'mediamtx.yml'
        if path.is_file():
            return path
    raise MediaServerUnavailable('the packaged MediaMTX config (config/mediamtx.yml) was not '
                                 f'found in {", ".join(map(str, candidates))}; set config_file')


def mediamtx_cache() -> Path:
    """Return where ``scripts/get-mediamtx.sh`` builds MediaMTX (one folder per version).

    The script's own rule: ``$PICAM_CACHE``, else ``$XDG_CACHE_HOME/picam_ros``, else
    ``~/.cache/picam_ros``; the binary is ``mediamtx-<version>/mediamtx`` in there.
    """
    base = os.environ.get('PICAM_CACHE')
    if not base:
        base = os.path.join(os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'),
                            'picam_ros')
    return Path(base)


#: The cache folder of a build for this machine (``scripts/get-mediamtx.sh`` without --arch).
_NATIVE_BUILD = re.compile(r'mediamtx-v\d+(?:\.\d+)*')


def _version_key(folder: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r'\d+', folder.name))


def find_mediamtx(configured: str | None = None) -> tuple[str | None, list[str]]:
    """Return the MediaMTX binary to run (an absolute path, or None) and where it was sought.

    The places are phrases to join with "and" (``on PATH``, ``in <folder>/mediamtx``).

    A configured path (``mediamtx_path``, ``$MEDIAMTX``) is the only place looked at when
    given. Else ``mediamtx`` on PATH, then the newest build of ``scripts/get-mediamtx.sh``
    (see :func:`mediamtx_cache`), so a checkout set up with ``scripts/setup.sh --test`` streams
    without further ado.
    """
    if configured:
        found = find_executable(configured)
        return (os.path.abspath(found) if found else None), [f'at {configured}']
    found = find_executable('mediamtx')
    if found is not None:
        return os.path.abspath(found), ['on PATH']
    cache = mediamtx_cache()
    looked = ['on PATH', f'in {cache / "mediamtx-*" / "mediamtx"}']
    with contextlib.suppress(OSError):
        # Native builds only: get-mediamtx.sh puts cross builds in mediamtx-<v>-linux_<arch>.
        native = [f for f in cache.glob('mediamtx-*') if _NATIVE_BUILD.fullmatch(f.name)]
        for folder in sorted(native, key=_version_key, reverse=True):
            found = find_executable(str(folder / 'mediamtx'))
            if found is not None:
                return found, looked
    return None, looked


@dataclass(frozen=True)
class MediaServerConfig(RtspEndpoint, RestartBackoff):
    """Where MediaMTX comes from and which ports it serves.

    ``mediamtx_path``: the binary (None: see :func:`find_mediamtx`).
    ``config_file``: MediaMTX YAML (None: the packaged ``config/mediamtx.yml``). Ports given
    here override the file. ``external``: use an already running server, only watch it.
    """

    mediamtx_path: str | None = config_field(
        None, 'MediaMTX binary (not set: $MEDIAMTX, then mediamtx on PATH, then the build of '
              'scripts/get-mediamtx.sh)', kind=str)
    config_file: str | None = config_field(
        None, 'MediaMTX YAML (not set: the packaged config/mediamtx.yml)', kind=str)
    webrtc_port: int = config_field(
        8889, 'MediaMTX WebRTC port: the browser viewer is http://<host>:<port>/<path>', low=1,
        high=65535)
    hls_port: int = config_field(8888, 'MediaMTX HLS port', low=1, high=65535)
    webrtc_udp_port: int = config_field(
        8189, 'MediaMTX WebRTC media port (UDP): browsers on the LAN must reach it', low=1,
        high=65535)
    rtp_port: int = config_field(
        8000, 'MediaMTX RTP port (UDP, even) for RTSP readers asking for UDP; RTCP is the next '
        'port', low=2, high=65534)
    external: bool = config_field(False,
                                  'use a MediaMTX started elsewhere instead of starting one')
    ready_timeout: float = config_field(
        10.0, 'seconds MediaMTX may take to open all its listeners after a start', low=0.1,
        high=120.0)

    def __post_init__(self) -> None:
        super().__post_init__()   # types, ranges from the field metadata
        ports = {'rtsp_port': self.rtsp_port, 'webrtc_port': self.webrtc_port,
                 'hls_port': self.hls_port}
        if len(set(ports.values())) != len(ports):
            raise ConfigError('webrtc_port', f'the rtsp, webrtc and hls ports must differ, '
                                             f'got {ports}')
        if self.rtp_port % 2:
            raise ConfigError('rtp_port', f'must be even (RTCP uses the next port), got '
                                          f'{self.rtp_port}')
        if self.webrtc_udp_port in (self.rtp_port, self.rtp_port + 1):
            raise ConfigError('webrtc_udp_port', f'{self.webrtc_udp_port} collides with RTP/RTCP '
                                                 f'{self.rtp_port}/{self.rtp_port + 1}')

    @property
    def rtcp_port(self) -> int:
        """RTCP port (UDP): the one after ``rtp_port``, as MediaMTX requires."""
        return self.rtp_port + 1

    def viewer_url(self, host: str, path: str) -> str:
        """Return the browser (WebRTC) page for ``path``."""
        return f'http://{host}:{self.webrtc_port}/{path}'


def _port_in_use(port: int, kind: int = socket.SOCK_STREAM) -> bool:
    """Tell whether a listener (TCP) or a bound socket (UDP) holds ``port`` on any address.

    For TCP, SO_REUSEADDR makes connections in TIME_WAIT not count.
    """
    for family, address in ((socket.AF_INET, '0.0.0.0'), (socket.AF_INET6, '::')):
        try:
            sock = socket.socket(family, kind)
        except OSError:
            continue   # no IPv6 on this machine
        with sock:
            if kind == socket.SOCK_STREAM:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind((address, port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return True
    return False


_TCP_LISTEN = '0A'


def _socket_inodes(port: int, protocol: str) -> set[str]:
    """Inodes of the sockets bound to local ``port``: TCP listeners, or any UDP socket."""
    inodes = set()
    for table in (f'/proc/net/{protocol}', f'/proc/net/{protocol}6'):
        try:
            with open(table) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or int(fields[1].rsplit(':', 1)[1], 16) != port:
                continue
            if protocol == 'tcp' and fields[3] != _TCP_LISTEN:
                continue
            if fields[9] != '0':
                inodes.add(fields[9])
    return inodes


def port_holder(port: int, protocol: str = 'tcp') -> str | None:
    """Name the process holding ``port`` ('mediamtx (pid 1234)'), or None when it is not visible.

    Linux: the socket's inode from ``/proc/net/{tcp,udp}{,6}``, then the process with a
    descriptor linked to ``socket:[inode]``. Processes of other users cannot be looked into
    without privileges; then the answer is None.
    """
    inodes = _socket_inodes(port, protocol)
    if not inodes:
        return None
    targets = {f'socket:[{inode}]' for inode in inodes}
    try:
        pids = [entry for entry in os.listdir('/proc') if entry.isdigit()]
    except OSError:
        return None
    for pid in pids:
        try:
            descriptors = os.listdir(f'/proc/{pid}/fd')
        except OSError:   # gone meanwhile, or another user's
            continue
        for fd in descriptors:
            try:
                if os.readlink(f'/proc/{pid}/fd/{fd}') in targets:
                    return f'{_process_name(pid)} (pid {pid})'
            except OSError:
                continue
    return None


def _process_name(pid: str) -> str:
    try:
        with open(f'/proc/{pid}/comm') as f:
            return f.read().strip() or 'a process'
    except OSError:
        return 'a process'


class MediaServer:
    """MediaMTX, started and supervised (or, with ``external``, only watched).

    ``start()`` returns once every listener is open (RTSP accepts connections; the WebRTC,
    HLS, RTP, RTCP and ICE/UDP ports are bound); a server that dies later is
    restarted with backoff by a supervisor thread. Errors that make the server unusable raise
    :class:`MediaServerUnavailable` with one clear message.
    """

    STOPPED, STARTING, READY, RESTARTING, FAILED, EXTERNAL = (
        'stopped', 'starting', 'ready', 'restarting', 'failed', 'external')

    def __init__(self, config: MediaServerConfig | None = None,
                 logger: logging.Logger | None = None) -> None:
        self.config = config or MediaServerConfig()
        self.logger = logger or logging.getLogger('picam_ros.stream.mediamtx')
        self._process: ManagedProcess | None = None
        self._supervisor: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopping = False
        self._state = self.STOPPED
        self._last_error: str | None = None
        self._external_probe = server_probe(self.config.host, self.config.rtsp_port)
        self._workdir_path: str | None = None
        #: Listeners found closed by the last readiness poll (named when a start times out).
        self._still_closed: list[str] = []

    # -- public API -----------------------------------------------------------------------------

    @property
    def state(self) -> str:
        return self._state

    @property
    def ready(self) -> bool:
        """Tell whether publishers can connect now."""
        if self._state == self.EXTERNAL:
            return self._external_probe()
        process = self._process
        return self._state == self.READY and process is not None and process.is_alive()

    @property
    def restarts(self) -> int:
        process = self._process
        return process.restarts if process is not None else 0

    @property
    def last_error(self) -> str | None:
        return self._last_error

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.is_alive() else None

    def resolve_binary(self) -> str:
        """Find the MediaMTX executable, or raise :class:`MediaServerUnavailable`."""
        configured = self.config.mediamtx_path or os.environ.get('MEDIAMTX')
        found, looked = find_mediamtx(configured)
        if found is not None:
            return found
        if configured:
            raise MediaServerUnavailable(
                f'MediaMTX not found at {configured!r} (or not executable); fix the path '
                f'given (stream.mediamtx_path, --stream-mediamtx-path or $MEDIAMTX)')
        raise MediaServerUnavailable(
            f'MediaMTX not found {" or ".join(looked)}; run scripts/get-mediamtx.sh, or '
            f'install it (https://github.com/bluenviron/mediamtx/releases) and put it on PATH, '
            f'give its path (stream.mediamtx_path, --stream-mediamtx-path or $MEDIAMTX), or '
            f'use an external server')

    def start(self) -> None:
        """Start MediaMTX and wait until all its listeners are open.

        External mode only probes and never fails (publishers wait for the server). Raises
        :class:`MediaServerUnavailable` when the binary or config is missing, a port is already
        taken, or the server does not come up. Starting a started server does nothing.
        """
        with self._lock:
            if self._state not in (self.STOPPED, self.FAILED):
                return
            self._stopping = False
            if self.config.external:
                self._state = self.EXTERNAL
                if not self.ready:
                    self.logger.warning(
                        'external media server: nothing accepts on %s:%d yet; the stream '
                        'starts when it does', self.config.host, self.config.rtsp_port)
                return
            self._state = self.STARTING
        try:
            process = ManagedProcess(self._spec(), logger=self.logger)
            with self._lock:
                if self._stopping:
                    return
                self._process = process
            process.start()
        except ProcessStopped:
            return
        except (ProcessError, MediaServerUnavailable) as exc:
            message = str(exc)
            if isinstance(exc, ProcessError):
                first, _, rest = message.partition('\n')
                if 'not ready' in first and self._still_closed:
                    first += f'; still closed: {", ".join(self._still_closed)}'
                message = f'MediaMTX failed to start: {first}' + (f'\n{rest}' if rest else '')
            with self._lock:
                self._state = self.FAILED
                self._last_error = message
            raise MediaServerUnavailable(message) from None
        with self._lock:
            stopping = self._stopping
            if not stopping:
                self._state = self.READY
                self._supervisor = threading.Thread(
                    target=self._supervise, args=(process,), name='picam-mediamtx-supervisor',
                    daemon=True)
                self._supervisor.start()
        if stopping:   # stop() ran before our process existed: finish its job
            process.stop()
            return
        self.logger.info('MediaMTX ready: rtsp://%s:%d, WebRTC on :%d (pid %d)',
                         self.config.host, self.config.rtsp_port, self.config.webrtc_port,
                         process.pid)

    def stop(self) -> None:
        """Stop MediaMTX (managed mode) and its supervisor; returns when they are gone."""
        with self._lock:
            self._stopping = True
            process, supervisor = self._process, self._supervisor
        if process is not None:
            process.stop()
        if supervisor is not None and supervisor is not threading.current_thread():
            supervisor.join()
        if process is not None:
            process.stop()
        with self._lock:
            self._supervisor = None
            self._state = self.STOPPED
            workdir, self._workdir_path = self._workdir_path, None
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)

    def __enter__(self) -> MediaServer:  # noqa: PYI034 - typing.Self needs 3.11
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- internals ----------------------------------------------------------------------------

    def _spec(self) -> ProcessSpec:
        binary = self.resolve_binary()
        config_file = Path(self.config.config_file) if self.config.config_file else (
            default_mediamtx_config())
        if not config_file.is_file():
            raise MediaServerUnavailable(f'MediaMTX config file {str(config_file)!r} not found')
        config = self.config
        for what, port, protocol in self._listeners():
            if _port_in_use(port, socket.SOCK_STREAM if protocol == 'tcp' else socket.SOCK_DGRAM):
                holder = port_holder(port, protocol)
                by = f' by {holder}' if holder else ''
                raise MediaServerUnavailable(
                    f'{what} port {port} is already in use{by}. Stop '
                    f'it (another MediaMTX?), choose another port, or set external mode '
                    f'to use that server')
        host, port = config.host, config.rtsp_port

        def every_listener_open() -> bool:
            # MediaMTX opens its servers one after another (RTSP with its RTP/RTCP sockets
            # first, WebRTC's HTTP then its ICE/UDP socket last), so the RTSP port alone
            # says "ready" while the browser's ports are still closed.
            self._still_closed = self._closed_listeners()
            return not self._still_closed and tcp_port_accepts(host, port)

        return ProcessSpec(
            name='mediamtx', argv=[binary, str(config_file.resolve())],
            cwd=self._workdir(),
            env={'MTX_RTSPADDRESS': f':{config.rtsp_port}',
                 'MTX_WEBRTCADDRESS': f':{config.webrtc_port}',
                 'MTX_HLSADDRESS': f':{config.hls_port}',
                 'MTX_WEBRTCLOCALUDPADDRESS': f':{config.webrtc_udp_port}',
                 'MTX_RTPADDRESS': f':{config.rtp_port}',
                 'MTX_RTCPADDRESS': f':{config.rtcp_port}',
                 # Off where the release has them, ignored where it does not:
                 # v1.19+ MoQ server (fixed ports 8892/8893, certificates written to the cwd);
                 # v1.11+ RTSP multicast (readers get UDP or TCP; multicast floods a LAN
                 # without IGMP snooping and needs two more ports).
                 'MTX_MOQ': 'no',
                 # picam_ros publishes over RTSP and the operator watches over WebRTC and
                 # HLS: a config file cannot turn those off.
                 'MTX_RTSP': 'yes', 'MTX_WEBRTC': 'yes', 'MTX_HLS': 'yes',
                 'MTX_RTSPTRANSPORTS': 'udp,tcp'},
            ready=every_listener_open,
            ready_timeout=config.ready_timeout, stop_timeout=3.0,
            backoff_initial=config.backoff_initial, backoff_max=config.backoff_max,
            stable_after=10.0, on_output=self._on_output)

    def _listeners(self) -> list[tuple[str, int, str]]:
        """Every port MediaMTX listens on: (what, port, 'tcp' or 'udp')."""
        config = self.config
        return [('rtsp', config.rtsp_port, 'tcp'), ('webrtc', config.webrtc_port, 'tcp'),
                ('hls', config.hls_port, 'tcp'),
                ('webrtc media (UDP)', config.webrtc_udp_port, 'udp'),
                ('rtp (UDP)', config.rtp_port, 'udp'), ('rtcp (UDP)', config.rtcp_port, 'udp')]

    def _closed_listeners(self) -> list[str]:
        """Name the listeners nothing holds yet ('webrtc media (UDP) port 8189')."""
        return [f'{what} port {port}' for what, port, protocol in self._listeners()
                if not _socket_inodes(port, protocol)]

    def _workdir(self) -> str:
        """Return the working directory of MediaMTX: private, temporary, removed by stop()."""
        with self._lock:
            if self._workdir_path is None:
                self._workdir_path = tempfile.mkdtemp(prefix='picam-mediamtx-')
            return self._workdir_path

    def _on_output(self, line: str) -> None:
        # MediaMTX tags its log lines INF/WAR/ERR; surface problems above the debug log.
        if ' ERR ' in line or ' WAR ' in line:
            self.logger.warning('mediamtx: %s', line)

    def _supervise(self, process: ManagedProcess) -> None:
        while True:
            returncode = process.wait()
            with self._lock:
                if self._stopping:
                    return
                self._state = self.RESTARTING
            tail = ' | '.join(process.stderr_tail()[-3:])
            reason = f'MediaMTX exited (status {returncode})' + (f': {tail}' if tail else '')
            self.logger.error('%s; restarting', reason)
            while True:
                try:
                    started = process.restart(reason)
                except ProcessError as exc:
                    reason = str(exc)
                    with self._lock:
                        self._last_error = reason
                    continue
                if not started:
                    return
                with self._lock:
                    if self._stopping:
                        return
                    self._state = self.READY
                    self._last_error = reason
                self.logger.info('MediaMTX restarted (pid %d)', process.pid)
                break
