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

"""Process-tree checks the tests share: is a process gone, what does it still have running.

Read from /proc, so a test can check processes it did not start itself (an ffmpeg forked by the
code under test, the children of a subprocess) without signalling them.
"""

from collections.abc import Callable
import os
import time


def _state_and_parent(pid: int) -> tuple[str, int] | None:
    try:
        with open(f'/proc/{pid}/stat') as f:
            fields = f.read().rsplit(')', 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1])


def process_gone(pid: int | None) -> bool:
    """Tell whether ``pid`` stopped running (absent, or a zombie awaiting its reaper)."""
    if pid is None:
        return True
    info = _state_and_parent(pid)
    return info is None or info[0] in ('Z', 'X')


def descendants(pid: int) -> set[int]:
    """Live (non-zombie) descendants of ``pid``: children, their children, and so on."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit() and (info := _state_and_parent(int(entry))) is not None:
            state, parent = info
            if state not in ('Z', 'X'):
                children.setdefault(parent, []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def wait_until(condition: Callable[[], bool], timeout: float = 10.0,
               interval: float = 0.02) -> bool:
    """Poll ``condition`` until it is true; ``timeout`` is a failure guard, not a measurement."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()
