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

"""Send without Nagle's delay: the environment that preloads our TCP_NODELAY library into ffmpeg.

The encoder publishes to MediaMTX over RTSP/TCP. ffmpeg's RTSP muxer leaves Nagle's algorithm
on for that connection and offers no option to turn it off, so the last, short segment of a
frame waits for the acknowledgement of the one before it, which the server's delayed ACK holds
back for up to 40 ms. Measured with ``bench/browser_latency.py --dump``: without the library
about 15% of frames reached the browser 40-50 ms late (network p90 about 50 ms) and the WebRTC
jitter buffer grew to cover them; with it, network p90 was about 12 ms and the jitter buffer
stayed near 9 ms.

``src_cpp/preload/tcp_nodelay.cpp`` (built next to this module as ``_tcp_nodelay`` with an
extension suffix) wraps ``socket()`` and sets ``TCP_NODELAY`` on each TCP socket. It is loaded
with ``LD_PRELOAD`` into the encoder only, never imported. Where it is missing (not Linux, or a
build without it) the encoder runs as before and the stream is only slower; so does a statically
linked ffmpeg (such builds ignore ``LD_PRELOAD``), which is why distro ffmpeg is the one to use.
"""

from __future__ import annotations

import importlib.machinery
import os
from pathlib import Path
import sys

__all__ = ['find_library', 'preload_env']

_NAME = '_tcp_nodelay'


def find_library(package_dir: Path | None = None) -> Path | None:
    """Return the built TCP_NODELAY library in the package folder, or None when there is none."""
    if not sys.platform.startswith('linux'):
        return None
    directory = package_dir if package_dir is not None else Path(__file__).resolve().parents[1]
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = directory / f'{_NAME}{suffix}'
        if candidate.is_file():
            return candidate
    return None


def preload_env(library: Path | None, environ: dict[str, str] | None = None) -> dict[str, str]:
    """Return the environment entries that preload ``library`` (none when it is None).

    An ``LD_PRELOAD`` the user already set is kept, after ours. A path the dynamic loader would
    split (it holds a space or a colon) cannot be preloaded safely, so it is not.
    """
    if library is None:
        return {}
    path = str(library)
    if ' ' in path or ':' in path:
        return {}
    existing = (os.environ if environ is None else environ).get('LD_PRELOAD', '').strip()
    return {'LD_PRELOAD': f'{path}:{existing}' if existing else path}
