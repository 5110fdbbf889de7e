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

"""The latest-item mailbox: the newest item wins, the producer never waits, nothing is shared."""

import threading

from picam_ros.core.latest_mailbox import LatestMailbox, MailboxThread


def fill(mailbox: LatestMailbox, value: int) -> bool:
    slot = mailbox.free_slot()
    mailbox.pool[slot][0] = value
    return mailbox.publish(slot)


def test_the_consumer_gets_the_newest_item_and_replaced_ones_are_counted():
    mailbox = LatestMailbox([[0], [0], [0]])
    assert fill(mailbox, 1) is False
    assert fill(mailbox, 2) is True and fill(mailbox, 3) is True
    assert mailbox.take(0)[0] == 3
    assert mailbox.replaced == 2
    assert mailbox.take(0) is None   # nothing unread: a timeout, not the old item again


def test_the_producer_never_fills_the_held_or_the_unread_item():
    mailbox = LatestMailbox([[0], [0], [0]])
    fill(mailbox, 1)
    held = mailbox.take(0)
    for value in range(2, 50):   # the consumer keeps its item while the producer runs on
        fill(mailbox, value)
        assert held[0] == 1
    assert mailbox.take(0)[0] == 49


def test_a_waiting_consumer_is_woken_by_an_item_and_by_close():
    mailbox = LatestMailbox([[0], [0], [0]])
    got = []
    consumer = threading.Thread(target=lambda: got.append(mailbox.take(30)))
    consumer.start()
    fill(mailbox, 7)
    consumer.join(30)
    assert got[0][0] == 7
    closer = threading.Thread(target=lambda: got.append(mailbox.take(30)))
    closer.start()
    mailbox.close()
    closer.join(30)
    assert got[1] is None and mailbox.closed


def test_an_error_is_reported_after_the_unread_item_and_reopen_clears_it():
    mailbox = LatestMailbox([[0], [0], [0]])
    fill(mailbox, 5)
    mailbox.fail('camera gone')
    assert mailbox.take(0)[0] == 5
    assert mailbox.take(0) is None and mailbox.error == 'camera gone'
    mailbox.reopen()
    assert mailbox.error is None and not mailbox.closed


def test_a_consumer_thread_handles_items_again_after_a_stop_and_a_start():
    handled = []
    arrived = threading.Event()

    def handle(item):
        handled.append(item[0])
        arrived.set()

    consumer = MailboxThread(LatestMailbox([[0], [0], [0]]), handle, 'test-consumer')
    assert not consumer.accepting   # not started: an item now would wait for nobody
    for value in (1, 2):
        consumer.start()
        assert consumer.accepting and consumer.running
        arrived.clear()
        fill(consumer.mailbox, value)
        assert arrived.wait(10.0)
        assert consumer.stop(10.0) is True
        assert not consumer.accepting and not consumer.running
    assert handled == [1, 2]


def test_a_consumer_thread_stop_gives_up_on_a_handler_that_never_returns():
    release = threading.Event()
    started = threading.Event()

    def handle(item):
        started.set()
        release.wait()

    consumer = MailboxThread(LatestMailbox([[0], [0], [0]]), handle, 'test-stuck')
    consumer.start()
    fill(consumer.mailbox, 1)
    assert started.wait(10.0)
    try:
        assert consumer.stop(0.05) is False   # bounded: the stuck handler is left behind
        assert not consumer.accepting
    finally:
        release.set()
