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

"""The operator page's web server: static page, config, and one WebSocket per page. No ROS.

:class:`OperatorServer` serves ``web/`` (plain ES modules, no build step) and ``/ws``. It
pushes centroid sets, each tagged with the sequence number and capture stamp of the frame it
came from, plus status; it takes actions from the page (:mod:`picam_ros.operator_page.protocol`),
refuses anything malformed, and hands valid state changes to a :class:`Backend` only on a
connection that presented the token. A page without the token is view-only.

The server runs its own asyncio loop in a thread (:meth:`OperatorServer.start`), so a ROS
node's executor and the web loop never block each other; every push from another thread is
handed over with ``call_soon_threadsafe`` and lands in a bounded per-page queue (oldest
dropped), so a slow page never makes memory grow.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field, replace
import hmac
import inspect
import json
import logging
import os
import secrets
import threading
import time
from typing import Any, Protocol

from aiohttp import web, WSMsgType
import numpy as np

from picam_ros.operator_page.protocol import (
    Action,
    Auth,
    CALIBRATION_MODES,
    CALIBRATION_STEPS,
    MAX_MESSAGE_BYTES,
    MODES,
    ParameterSpec,
    parse_action,
    Refusal,
    SCALE_MODES,
    SetParameter,
)

WEB_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'web')
#: aiohttp closes the socket (1009) above this; between MAX_MESSAGE_BYTES and it, we refuse.
HARD_MESSAGE_LIMIT = 4 * MAX_MESSAGE_BYTES
#: Wrong tokens tolerated on one connection before it is closed.
MAX_AUTH_FAILURES = 5
BACKEND_TIMEOUT_S = 5.0
#: Messages a page may send per second on average (bursts up to the same number).
MAX_MESSAGES_PER_S = 50.0
STOP_TIMEOUT_S = 5.0

_log = logging.getLogger('picam_ros.operator_page')


@dataclass(frozen=True)
class Outcome:
    """What a backend did with an action: ``ok``, or the ``reason`` it refused."""

    ok: bool
    reason: str = ''
    detail: dict[str, Any] = field(default_factory=dict)


class Backend(Protocol):
    """Where valid, authorised actions go (the ROS node, or a test double)."""

    def handle(self, action: Action) -> Outcome | Any:
        """Act on ``action``; may return an awaitable of an :class:`Outcome`."""


@dataclass(frozen=True)
class OperatorConfig:
    """Where the page is served and how it finds its video."""

    host: str = '127.0.0.1'
    port: int = 8080               # 0: any free port (tests)
    token: str = ''                # '' and no token_file: a random token, logged at start
    token_file: str = ''
    whep_url: str = ''             # e.g. http://{host}:8889/cam/whep ({host}: the page's host)
    video_url: str = ''            # a plain video file instead of WHEP (tests, recordings)
    media_dir: str = ''            # served at /media/ (same origin: the page reads its pixels)
    profiles: tuple[str, ...] = ('pads',)
    history: int = 64              # centroid sets kept per profile for late pages
    queue: int = 256               # messages queued per page before the oldest is dropped
    max_blobs: int = 5000          # blobs per pushed set (the rest are counted, not sent)

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f'port: {self.port} is not a TCP port (0-65535)')
        if self.history < 1 or self.queue < 8 or self.max_blobs < 1:
            raise ValueError('history, queue and max_blobs must be positive (queue >= 8)')


def load_token(config: OperatorConfig) -> tuple[str, str]:
    """(token, where it came from). A file is read once; it must hold a non-empty line."""
    if config.token:
        return config.token, 'the configuration'
    if config.token_file:
        try:
            with open(config.token_file, encoding='utf-8') as handle:
                token = handle.read().strip()
        except OSError as error:
            raise ValueError(f'token_file {config.token_file!r}: {error.strerror}') from None
        if not token:
            raise ValueError(f'token_file {config.token_file!r} is empty')
        return token, config.token_file
    return secrets.token_urlsafe(18), 'generated at start'


@dataclass(frozen=True)
class CentroidSet:
    """The blobs of one profile in one frame, with that frame's identity."""

    profile: str
    seq: int | None            # the frame's sequence number, when the source knows it
    stamp_ns: int              # capture stamp of the frame (ns since the epoch)
    width: int
    height: int
    blobs: np.ndarray          # structured: x, y, area; optional orientation (radians)

    def as_message(self, max_blobs: int) -> dict[str, Any]:
        names = self.blobs.dtype.names or ()
        count = self.blobs.shape[0]
        blobs = self.blobs[:max_blobs]
        columns = [np.round(blobs['x'].astype(float), 3), np.round(blobs['y'].astype(float), 3),
                   blobs['area'].astype(float)]
        if 'orientation' in names:
            columns.append(np.round(np.degrees(blobs['orientation'].astype(float)), 2))
        points = np.stack(columns, axis=1).tolist() if count else []
        return {'type': 'centroids', 'profile': self.profile, 'seq': self.seq,
                'stamp_ns': self.stamp_ns, 'width': self.width, 'height': self.height,
                'fields': ['x', 'y', 'area', 'orientation_deg'][:len(columns)],
                'points': points, 'dropped': max(0, count - max_blobs)}


class _Page:
    """One connected page: its socket, whether it showed the token, its bounded outbox."""

    def __init__(self, ws: web.WebSocketResponse, size: int) -> None:
        self.ws = ws
        self.authorised = False
        self.auth_failures = 0
        self.outbox: deque[str] = deque(maxlen=size)
        self.dropped = 0
        self.wake = asyncio.Event()
        self._budget = MAX_MESSAGES_PER_S
        self._refilled = time.monotonic()

    def take(self) -> bool:
        """Spend one message of the page's budget (a token bucket); False when it is empty."""
        now = time.monotonic()
        self._budget = min(MAX_MESSAGES_PER_S,
                           self._budget + (now - self._refilled) * MAX_MESSAGES_PER_S)
        self._refilled = now
        if self._budget < 1.0:
            return False
        self._budget -= 1.0
        return True

    def send(self, text: str) -> None:
        if len(self.outbox) == self.outbox.maxlen:
            self.dropped += 1
        self.outbox.append(text)
        self.wake.set()


class OperatorServer:
    """The web side of the operator page (see the module docstring)."""

    def __init__(self, config: OperatorConfig, backend: Backend,
                 parameters: list[ParameterSpec] | tuple[ParameterSpec, ...] = (),
                 features: dict[str, bool] | None = None,
                 views: dict[str, tuple[str, ...]] | None = None,
                 stamping: dict[str, str] | None = None) -> None:
        self.config = config
        self.backend = backend
        self.parameters = {spec.name: spec for spec in parameters}
        #: What the backend can do today; the page disables what is False.
        self.features = {'modes': False, 'calibration': False, 'align': False, 'targets': True,
                         'parameters': bool(self.parameters), **(features or {})}
        #: mode -> the profiles whose centroids that mode's video shows (None: all, always).
        self.views = views
        #: mode -> the profile whose frames the video shows (their sequence stamps the frame);
        #: None: every profile's sets are numbered like the video's frames.
        self.stamping = stamping
        self.token, self.token_source = load_token(config)
        self.refused = 0             # every refusal, for tests and status
        self.accepted = 0
        self._pages: set[_Page] = set()
        self._history: dict[str, deque[str]] = {}
        self._status: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self.port: int | None = None
        self.app = self.build_app()

    # -- app -------------------------------------------------------------------------------
    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024)
        app.router.add_get('/', self._index)
        app.router.add_get('/config.json', self._config)
        app.router.add_get('/ws', self._websocket)
        app.router.add_get('/favicon.svg', self._favicon)
        app.router.add_get('/favicon.ico', self._favicon)   # browsers ask without a link
        app.router.add_static('/web/', WEB_DIR, show_index=False, follow_symlinks=False)
        if self.config.media_dir:
            app.router.add_static('/media/', self.config.media_dir, show_index=False,
                                  follow_symlinks=False)
        app.on_startup.append(self._on_startup)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def _on_startup(self, app: web.Application) -> None:
        self._loop = asyncio.get_running_loop()

    async def _on_shutdown(self, app: web.Application) -> None:
        for page in list(self._pages):
            await page.ws.close(code=1001, message=b'server stopping')

    def page_config(self) -> dict[str, Any]:
        return {
            'type': 'hello',
            'profiles': list(self.config.profiles),
            'parameters': [spec.as_json() for spec in self.parameters.values()],
            'modes': list(MODES),
            'calibration_steps': [{'step': step, 'mode': CALIBRATION_MODES[step]}
                                  for step in CALIBRATION_STEPS],
            'scale_modes': dict(SCALE_MODES),
            'features': self.features,
            'views': self.views,
            'stamping': self.stamping,
            'video': {'whep': self.config.whep_url, 'url': self.config.video_url},
            'limits': {'message_bytes': MAX_MESSAGE_BYTES},
        }

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(os.path.join(WEB_DIR, 'index.html'),
                                headers={'Cache-Control': 'no-store'})

    async def _favicon(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(os.path.join(WEB_DIR, 'favicon.svg'),
                                headers={'Content-Type': 'image/svg+xml'})

    async def _config(self, request: web.Request) -> web.Response:
        return web.json_response(self.page_config(), headers={'Cache-Control': 'no-store'})

    # -- pushes (any thread) ---------------------------------------------------------------
    def publish_centroids(self, centroid_set: CentroidSet) -> None:
        """Push one set to every page (and keep it for pages that connect later)."""
        text = json.dumps(centroid_set.as_message(self.config.max_blobs),
                          separators=(',', ':'))
        self._call(self._push_centroids, centroid_set.profile, text)

    def publish_status(self, status: dict[str, Any]) -> None:
        """Push status (fps, drops, blobs, processing_ms, stream_state, mode, ...)."""
        text = json.dumps({'type': 'status', **status}, separators=(',', ':'), default=str)
        self._call(self._push_status, text)

    def update_parameter_values(self, values: dict[str, Any]) -> None:
        """Record the node's current values (sent to pages that connect from now on)."""
        self._call(self._update_values, values)

    def _update_values(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            spec = self.parameters.get(name)
            if spec is not None and not spec.check(value):
                self.parameters[name] = replace(spec, value=value)

    def _call(self, function: Any, *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            if _running_in(loop):
                function(*args)
            else:
                loop.call_soon_threadsafe(function, *args)
        except RuntimeError:        # loop closed between the check and the call: stopping
            pass

    def _push_centroids(self, profile: str, text: str) -> None:
        history = self._history.setdefault(profile, deque(maxlen=self.config.history))
        history.append(text)
        for page in self._pages:
            page.send(text)

    def _push_status(self, text: str) -> None:
        self._status = text
        for page in self._pages:
            page.send(text)

    # -- one page --------------------------------------------------------------------------
    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=HARD_MESSAGE_LIMIT, heartbeat=20.0)
        await ws.prepare(request)
        page = _Page(ws, self.config.queue)
        page.send(json.dumps({**self.page_config(), 'authorised': False}))
        if self._status is not None:
            page.send(self._status)
        for history in self._history.values():
            for text in history:
                page.send(text)
        self._pages.add(page)
        sender = asyncio.ensure_future(self._drain(page))
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    await self._receive(page, message.data)
                elif message.type == WSMsgType.BINARY:
                    self._refuse(page, Refusal('binary messages are not accepted; send JSON '
                                               'text'))
                elif message.type == WSMsgType.ERROR:
                    break
        finally:
            self._pages.discard(page)
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
        return ws

    async def _drain(self, page: _Page) -> None:
        while not page.ws.closed:
            await page.wake.wait()
            page.wake.clear()
            while page.outbox and not page.ws.closed:
                await page.ws.send_str(page.outbox.popleft())

    def _refuse(self, page: _Page, refusal: Refusal) -> None:
        self.refused += 1
        _log.info('refused: %s', refusal.reason)
        page.send(json.dumps({'type': 'refused', 'id': refusal.id, 'reason': refusal.reason}))

    async def _receive(self, page: _Page, text: str) -> None:
        if not page.take():
            self._refuse(page, Refusal(f'too many messages: at most {MAX_MESSAGES_PER_S:g} '
                                       f'per second'))
            return
        action = parse_action(text, self.parameters, self.config.profiles)
        if isinstance(action, Refusal):
            self._refuse(page, action)
            return
        if isinstance(action, Auth):
            if hmac.compare_digest(action.token.encode(), self.token.encode()):
                page.authorised = True
                page.send(json.dumps({'type': 'authorised', 'id': action.id}))
                return
            page.auth_failures += 1
            self._refuse(page, Refusal('wrong token: the page stays view-only', action.id))
            if page.auth_failures >= MAX_AUTH_FAILURES:
                await page.ws.close(code=1008, message=b'too many wrong tokens')
            return
        if not page.authorised:
            self._refuse(page, Refusal(f'view-only: {_describe(action)} needs the operator '
                                       f'token', action.id))
            return
        outcome = await self._dispatch(action)
        if not outcome.ok:
            self._refuse(page, Refusal(outcome.reason, action.id))
            return
        self.accepted += 1
        if isinstance(action, SetParameter):
            self.parameters[action.name] = replace(self.parameters[action.name],
                                                   value=action.value)
        page.send(json.dumps({'type': 'done', 'id': action.id, **outcome.detail}))

    async def _dispatch(self, action: Action) -> Outcome:
        try:
            result = self.backend.handle(action)
            if inspect.isawaitable(result):
                result = await asyncio.wait_for(result, BACKEND_TIMEOUT_S)
        except asyncio.TimeoutError:
            return Outcome(False, f'{_describe(action)}: no answer within '
                                  f'{BACKEND_TIMEOUT_S:g} s')
        except Exception as error:  # noqa: BLE001 - a backend fault is reported, not fatal
            _log.warning('backend failed on %s: %s', _describe(action), error)
            return Outcome(False, f'{_describe(action)} failed: {error}')
        return result

    # -- own thread ------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> int:
        """Serve from a thread of its own; return the bound port. Raises if it cannot bind."""
        self._thread = threading.Thread(target=self._run, name='operator-web', daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            raise RuntimeError(f'operator page: not serving after {timeout:g} s')
        if self._start_error is not None:
            raise self._start_error
        return self.port

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
            self._started.set()
            loop.run_forever()
        except OSError as error:
            self._start_error = OSError(
                error.errno, f'operator page: cannot listen on {self.config.host}:'
                             f'{self.config.port}: {error.strerror}')
            self._started.set()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self) -> None:
        # No shutdown_timeout: its home moved between aiohttp 3.8 (Debian 12) and 3.9; stop()
        # bounds the whole cleanup instead.
        self._runner = web.AppRunner(self.app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            raise
        sockets = site._server.sockets if site._server else ()
        self.port = sockets[0].getsockname()[1] if sockets else self.config.port

    def url(self, with_token: bool = False) -> str:
        host = self.config.host if self.config.host not in ('', '0.0.0.0', '::') else '127.0.0.1'
        base = f'http://{host}:{self.port}/'
        return f'{base}#token={self.token}' if with_token else base

    def stop(self) -> None:
        """Close every page and the listener; bounded by :data:`STOP_TIMEOUT_S`."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        if self._runner is not None:
            future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop)
            try:
                future.result(STOP_TIMEOUT_S)
            except Exception as error:  # noqa: BLE001 - stopping goes on whatever happened
                _log.warning('operator page: unclean stop: %s', error)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(STOP_TIMEOUT_S)


def _running_in(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _describe(action: Action) -> str:
    names = {'SelectTarget': 'selecting a target', 'SetParameter': 'setting a parameter',
             'SetMode': 'changing the mode', 'CalibrationClick': 'a calibration click',
             'FindNozzle': 'finding the nozzle', 'CalibrationScale': 'a scale calibration',
             'Rotate': 'rotating', 'Align': 'aligning'}
    return names.get(type(action).__name__, type(action).__name__)
