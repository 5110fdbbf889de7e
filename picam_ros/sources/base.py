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

"""The frame source interface: what every source promises, and the errors it raises.

Frame lifetime: a frame returned by ``read()`` stays valid until the next ``read()`` or
``stop()`` on the same source. Call ``frame.copy()`` to keep it longer. One thread reads
(the capture thread); ``stop()`` and ``stats`` may be called from any thread.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass

from picam_ros.core.frames import Frame, FrameFormat


class SourceError(RuntimeError):
    """The source cannot deliver frames and will not recover by itself."""


class SourceStopped(SourceError):
    """``read()`` on a source that is not running (never started, or stopped meanwhile)."""


class FrameTimeout(TimeoutError):
    """No frame arrived within the ``read()`` timeout; the source keeps running."""


@dataclass(frozen=True)
class SourceStats:
    """A snapshot of a source's counters.

    ``frames``: complete frames produced; ``delivered``: returned by ``read()``; ``drops``:
    produced but never delivered (the consumer was slower than the source), i.e. the gaps in
    delivered sequence numbers; ``restarts``: child restarts; ``fps``: recent production rate;
    ``restart_delay``: the backoff before the latest restart (doubles per failed run, capped);
    ``last_error_age``: seconds since ``last_error`` happened (None: no error yet), so that a
    reader can tell the current trouble from a past incident.
    """

    frames: int = 0
    delivered: int = 0
    drops: int = 0
    restarts: int = 0
    fps: float = 0.0
    last_error: str | None = None
    running: bool = False
    restart_delay: float = 0.0
    last_error_age: float | None = None


class FrameSource(abc.ABC):
    """A context-managed producer of frames (see the module docstring for frame lifetime)."""

    format: FrameFormat

    @abc.abstractmethod
    def start(self) -> None:
        """Begin producing frames. Raises :class:`SourceError` when that is impossible."""

    @abc.abstractmethod
    def read(self, timeout: float | None = None) -> Frame:
        """Return the newest frame not yet returned, waiting up to ``timeout`` seconds.

        ``None`` waits until one arrives. Raises :class:`FrameTimeout` when none arrived in
        time, :class:`SourceStopped` when the source is not running and :class:`SourceError`
        when it failed for good.
        """

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop producing and release children and threads. Idempotent."""

    @property
    @abc.abstractmethod
    def stats(self) -> SourceStats:
        """Counters snapshot."""

    def frames(self, timeout: float | None = None) -> Iterator[Frame]:
        """Yield frames until the source stops (each valid until the next one is yielded)."""
        while True:
            try:
                yield self.read(timeout)
            except SourceStopped:
                return

    def __enter__(self) -> FrameSource:  # noqa: PYI034 - typing.Self needs 3.11
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
