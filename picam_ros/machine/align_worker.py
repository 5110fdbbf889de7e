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

"""Alignment off the capture thread: the newest centroid pair, aligned on a worker.

Aligning a part takes ~13 ms (more with many blobs); on the board camera's capture thread it
delayed every frame after a centroid pair. The capture thread now only hands the pair to
:meth:`AlignmentWorker.offer`, which never waits: the pair goes into a latest-item mailbox (a
pool of three slots, nothing allocated or queued per pair), and a worker thread aligns the
newest one. When alignment is slower than the pairs arrive, the waiting pair is replaced by
the newer one and counted (``replaced``): an old correction is worth nothing once a newer
frame pair exists. :meth:`AlignmentWorker.stop` waits a bounded time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from picam_ros.core.latest_mailbox import LatestMailbox, MailboxThread

__all__ = ['JOIN_TIMEOUT_S', 'AlignmentWorker']

T = TypeVar('T')
#: The node must end within 2 s of SIGINT, capture stop included.
JOIN_TIMEOUT_S = 1.0


class AlignmentWorker(Generic[T]):
    """Run ``work(board, component)`` on a thread for the newest pair offered."""

    def __init__(self, work: Callable[[T, T], object],
                 on_error: Callable[[str], None] | None = None,
                 name: str = 'picam-align') -> None:
        self._work = work
        self._on_error = on_error
        self._consumer: MailboxThread[list] = MailboxThread(
            LatestMailbox([[None, None] for _ in range(3)]), self._align, name)
        self.done = 0
        self.failures = 0

    @property
    def replaced(self) -> int:
        """Pairs replaced by a newer one before the worker got to them."""
        return self._consumer.mailbox.replaced

    def start(self) -> None:
        self._consumer.start()

    def offer(self, board: T, component: T) -> bool:
        """Hand the newest pair to the worker (capture thread; never waits on the work)."""
        if not self._consumer.accepting:
            return False
        mailbox = self._consumer.mailbox
        slot = mailbox.free_slot()
        mailbox.pool[slot][:] = (board, component)
        mailbox.publish(slot)
        return True

    def stop(self, timeout: float = JOIN_TIMEOUT_S) -> bool:
        """Stop taking pairs; True when the thread ended within ``timeout`` s.

        A pair being aligned is finished (its result may still be published); one waiting is
        dropped.
        """
        return self._consumer.stop(timeout)

    def _align(self, pair: list) -> None:
        board, component = pair
        try:
            self._work(board, component)
            self.done += 1
        except Exception as error:  # noqa: BLE001 - one failed alignment must not end it
            self.failures += 1
            if self._on_error is not None:
                self._on_error(f'{type(error).__name__}: {error}')
