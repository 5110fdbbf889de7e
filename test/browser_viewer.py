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

"""A real viewer: headless Chromium (Debian's) driven by Playwright, playing MediaMTX's WHEP.

The page (``test/browser/stamp_viewer.html``) is served by Playwright on MediaMTX's own WebRTC
origin, so its WHEP request is same-origin. It reads back the sequence stamp of every frame it
presents (see the page). Used by the browser tests and ``bench/browser_latency.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import os
from pathlib import Path
import shutil
import tempfile
import time

import pytest

try:
    from playwright.sync_api import sync_playwright
except ImportError:   # optional: the browser tests skip (fail in CI) without it
    sync_playwright = None

PAGE = Path(__file__).resolve().parent / 'browser' / 'stamp_viewer.html'
#: The flags these machines need (developers' brief), plus WebRTC over loopback.
CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                  '--disable-background-networking', '--disable-component-update',
                  '--disable-sync', '--allow-loopback-in-peer-connection',
                  '--disable-features=WebRtcHideLocalIpsWithMdns']
#: MediaMTX offers ICE candidates on loopback only (the tests never use another address).
LOOPBACK_ICE_ENV = {'MTX_WEBRTCIPSFROMINTERFACES': 'no',
                    'MTX_WEBRTCADDITIONALHOSTS': '127.0.0.1'}


def find_chromium() -> str | None:
    """Return ``$CHROMIUM`` or Debian's ``/usr/bin/chromium`` (None when neither exists)."""
    for candidate in (os.environ.get('CHROMIUM'), '/usr/bin/chromium', shutil.which('chromium')):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def require_browser() -> str:
    """Return the Chromium binary; skip without it or Playwright, but fail in CI (``CI=true``)."""
    binary = find_chromium()
    missing = None if binary else 'Debian chromium (apt-get install chromium)'
    if sync_playwright is None:
        missing = 'the Python playwright package (pip install playwright)'
    if missing:
        if os.environ.get('CI', '').lower() in ('true', '1', 'yes'):
            pytest.fail(f'CI: the browser tests need {missing}', pytrace=False)
        pytest.skip(f'needs {missing}')
    return binary


@contextlib.contextmanager
def playing_page(url: str, viewport: tuple[int, int] = (1280, 720)) -> Iterator:
    """Open ``url`` in a headless Chromium that plays video without a click; close it after.

    The operator page's tests see it as an operator does: the video starts on its own
    (autoplay allowed), over WebRTC on loopback (``CHROMIUM_FLAGS``).
    """
    chromium = require_browser()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True,
            args=[*CHROMIUM_FLAGS, '--autoplay-policy=no-user-gesture-required'])
        try:
            page = browser.new_page(viewport={'width': viewport[0], 'height': viewport[1]})
            page.goto(url)
            yield page
        finally:
            browser.close()


class BrowserViewer:
    """One headless Chromium with a fresh profile showing the stamp viewer page."""

    def __init__(self, chromium: str, extra_flags: list[str] | None = None) -> None:
        self.chromium = chromium
        self.flags = CHROMIUM_FLAGS + list(extra_flags or ())
        self._profile = tempfile.mkdtemp(prefix='picam-chromium-')
        self._playwright = None
        self._context = None
        self.page = None

    def __enter__(self) -> BrowserViewer:  # noqa: PYI034 - typing.Self needs 3.11
        self._playwright = sync_playwright().start()
        try:
            self._context = self._playwright.chromium.launch_persistent_context(
                self._profile, executable_path=self.chromium, headless=True,
                args=self.flags, viewport={'width': 1280, 'height': 1024})
            self.page = self._context.new_page()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._context is not None:
                self._context.close()
        finally:
            if self._playwright is not None:
                self._playwright.stop()
            shutil.rmtree(self._profile, ignore_errors=True)

    def open(self, webrtc_port: int, path: str, decoded: bool = False) -> None:
        """Load the viewer for ``path`` on MediaMTX's WebRTC origin; it starts playing.

        ``decoded`` also reads the stamp of every decoded frame (:meth:`drain_decoded`).
        """
        origin = f'http://127.0.0.1:{webrtc_port}'
        html = PAGE.read_text()
        self.page.route(f'{origin}/picam-viewer.html*',
                        lambda route: route.fulfill(body=html, content_type='text/html'))
        query = f'path={path}' + ('&decoded=1' if decoded else '')
        self.page.goto(f'{origin}/picam-viewer.html?{query}')

    def drain(self) -> list[tuple[int, float]]:
        """Return and forget the frames presented since the last call: (sequence, wall ms)."""
        return [(sequence, presented) for sequence, presented, _ in self.drain_records()]

    def drain_records(self) -> list[tuple[int, float, float]]:
        """Like :meth:`drain`, with the frame's receive time: (sequence, presented, received).

        Times are wall-clock ms; ``received`` (the last RTP packet of the frame, from
        requestVideoFrameCallback's metadata) is -1 when the browser does not give it.
        """
        return [(int(s), float(p), float(r)) for s, p, r in self.page.evaluate('picam.drain()')]

    def drain_decoded(self) -> list[tuple[int, float]]:
        """Return and forget the frames decoded since the last call: (sequence, wall ms).

        Only with ``open(..., decoded=True)``; a frame is here whether or not it was presented.
        """
        return [(int(s), float(t)) for s, t in self.page.evaluate('picam.drainDecoded()')]

    def state(self) -> dict:
        return self.page.evaluate('({sessions: picam.sessions, unreadable: picam.unreadable, '
                                  'errors: picam.errors, width: picam.width, '
                                  'height: picam.height})')

    def receiver_stats(self) -> dict:
        """Return the WebRTC receiver counters (frames received, decoded, dropped)."""
        return self.page.evaluate('picam.receiverStats()')

    def clock_offset_ms(self, rounds: int = 15) -> float:
        """Browser wall clock (timeOrigin + now()) minus ``time.time_ns()``, in ms.

        The sample with the shortest round trip wins; its midpoint is the Python time.
        """
        best = None
        for _ in range(rounds):
            before = time.time_ns()
            browser_ms = self.page.evaluate('performance.timeOrigin + performance.now()')
            after = time.time_ns()
            rtt = after - before
            if best is None or rtt < best[0]:
                best = (rtt, browser_ms - (before + after) / 2e6)
        return best[1]

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path))
