"""Helpers shared by the process and streaming tests (real processes, real ports)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable


def free_tcp_port() -> int:
    """A TCP port that was free a moment ago (bound to port 0, then released)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def pid_gone(pid: int | None) -> bool:
    """True when ``pid`` no longer runs (absent, or a zombie awaiting a reaper we do not own)."""
    if pid is None:
        return True
    try:
        with open(f'/proc/{pid}/stat') as f:
            state = f.read().rsplit(')', 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ('Z', 'X')


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Poll ``condition`` until true; ``timeout`` is only a failure guard."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
