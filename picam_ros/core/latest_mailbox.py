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
"""The latest-item mailbox: a producer hands the newest item to a consumer, never waiting.

One mechanism, used wherever the newest item matters more than every item: the process
sources' reader thread hands frames to ``read()``, the standalone runner's capture thread hands
frames to its processing loop, and a :class:`MailboxThread` consumes the newest item on a thread
of its own (the in-process centroids, the JPEG encoder, the machine node's alignment).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import threading
from typing import Generic, TypeVar

T = TypeVar('T')


class LatestMailbox(Generic[T]):
    """A pool of three items between one producer and one consumer.

    At any time one item may be held by the consumer (until its next ``take``), one may wait as
    the newest unread item, and the producer fills the third (``free_slot``), then ``publish``-es
    it. Publishing over an unread item replaces it (counted in ``replaced``), so the producer
    never blocks on a slow consumer and nothing is allocated per item.
    """

    def __init__(self, pool: Sequence[T]) -> None:
        if len(pool) != 3:
            raise ValueError(f'a latest-item mailbox needs a pool of 3 items, got {len(pool)}')
        self.pool = list(pool)
        self._cond = threading.Condition()
        self._held: int | None = None
        self._ready: int | None = None
        self._closed = False
        self.error: str | None = None
        self.replaced = 0

    @property
    def closed(self) -> bool:
        return self._closed

    def free_slot(self) -> int:
        """Return the index of the item the producer may fill now (neither held nor unread)."""
        with self._cond:
            return next(i for i in range(3) if i != self._held and i != self._ready)

    def publish(self, slot: int) -> bool:
        """Make ``pool[slot]`` the newest unread item; True when it replaced an unread one."""
        with self._cond:
            replaced = self._ready is not None
            self.replaced += replaced
            self._ready = slot
            self._cond.notify_all()
            return replaced

    def take(self, timeout: float | None) -> T | None:
        """Return the newest unread item, waiting up to ``timeout`` seconds (None: forever).

        The previously taken item goes back to the producer. None when nothing arrived in time,
        or when the mailbox is closed (``closed``) or failed (``error``) and nothing is unread.
        """
        with self._cond:
            self._held = None
            self._cond.wait_for(
                lambda: self._ready is not None or self._closed or self.error is not None,
                timeout)
            if self._ready is None:
                return None
            self._held, self._ready = self._ready, None
            return self.pool[self._held]

    def fail(self, message: str) -> None:
        """Wake the consumer with an error; an unread item is still delivered first."""
        with self._cond:
            self.error = message
            self._cond.notify_all()

    def close(self) -> None:
        """Stop handing items out: the unread one is dropped and the consumer woken."""
        with self._cond:
            self._closed = True
            self._ready = None
            self._cond.notify_all()

    def reopen(self) -> None:
        """Start afresh (after ``close`` or ``fail``): nothing held, nothing unread, no error."""
        with self._cond:
            self._closed = False
            self.error = None
            self._held = self._ready = None


class MailboxThread(Generic[T]):
    """The consumer of a :class:`LatestMailbox`: a daemon thread that handles the newest item.

    ``handle`` runs on the thread for each item taken; the item is the consumer's until the
    next take (the producer fills the other two slots meanwhile). :meth:`stop` closes the
    mailbox (a waiting item is dropped, one being handled is finished) and waits a bounded
    time, so a handler that never returns cannot hold up a stop: the thread is a daemon.
    """

    def __init__(self, mailbox: LatestMailbox[T], handle: Callable[[T], None],
                 name: str) -> None:
        self.mailbox = mailbox
        self._handle = handle
        self._name = name
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Tell whether the thread is alive (not before ``start``, nor after a ``stop``)."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def accepting(self) -> bool:
        """Tell whether an item published now will be handled: started, not stopped."""
        return self._thread is not None and not self.mailbox.closed

    def start(self) -> None:
        """Start the thread; idempotent. After a ``stop`` the mailbox starts afresh.

        An item published before the first start is handled once the thread runs.
        """
        if self._thread is not None:
            return
        if self.mailbox.closed:
            self.mailbox.reopen()
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> bool:
        """Stop taking items; True when the thread ended within ``timeout`` s."""
        self.mailbox.close()
        thread, self._thread = self._thread, None
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def _run(self) -> None:
        mailbox = self.mailbox
        while not mailbox.closed:
            item = mailbox.take(None)
            if item is not None:
                self._handle(item)
