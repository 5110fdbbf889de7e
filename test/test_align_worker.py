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

"""Alignment on its own thread: capture hands over the newest pair and never waits for it.

The slow aligner is held on an event the test releases only after the capture loop is done:
if ``offer`` ever waited for the work, the capture loop could not finish (the work's own
bounded wait then fails the test instead of hanging it). No wall-clock time is asserted.
"""

from __future__ import annotations

import threading

import pytest

from picam_ros.machine.align_worker import AlignmentWorker

GUARD_S = 10.0   # bounds every wait; never reached when the behaviour holds


class SlowAligner:
    """Blocks on ``release`` while aligning; records the pairs it was given."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.pairs: list[tuple[int, int]] = []
        self.finished = threading.Condition()

    def __call__(self, board: int, component: int) -> None:
        self.started.set()
        if not self.release.wait(GUARD_S):
            raise AssertionError('the test never released the aligner')
        with self.finished:
            self.pairs.append((board, component))
            self.finished.notify_all()

    def wait_for(self, count: int) -> bool:
        with self.finished:
            return self.finished.wait_for(lambda: len(self.pairs) >= count, GUARD_S)


@pytest.fixture
def slow():
    aligner = SlowAligner()
    worker = AlignmentWorker(aligner)
    worker.start()
    yield aligner, worker
    aligner.release.set()
    assert worker.stop()


def capture(worker: AlignmentWorker, frames: int) -> threading.Thread:
    """Start a capture loop offering one pair per frame, on its own thread like a camera's."""
    def run() -> None:
        for sequence in range(frames):
            worker.offer(sequence, sequence)
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_capture_goes_on_while_an_alignment_is_stuck(slow):
    aligner, worker = slow
    worker.offer(-1, -1)
    assert aligner.started.wait(GUARD_S)       # the worker is inside the slow alignment
    loop = capture(worker, 200)
    loop.join(GUARD_S)
    assert not loop.is_alive(), 'capture waited for the alignment'
    assert aligner.pairs == []                  # all 200 offers went by during one alignment
    aligner.release.set()
    assert aligner.wait_for(2)
    # Latest wins: the stuck pair, then the newest; the 199 in between were replaced.
    assert aligner.pairs == [(-1, -1), (199, 199)]
    assert worker.replaced == 199


def test_a_failing_alignment_is_counted_and_the_worker_goes_on():
    errors: list[str] = []
    seen = threading.Semaphore(0)

    def work(board: int, component: int) -> None:
        seen.release()
        if board == 0:
            raise LookupError('fewer than 2 leads land on pads')

    worker = AlignmentWorker(work, on_error=errors.append)
    worker.start()
    try:
        worker.offer(0, 0)
        assert seen.acquire(timeout=GUARD_S)
        worker.offer(1, 1)
        assert seen.acquire(timeout=GUARD_S)
    finally:
        assert worker.stop()
    assert errors == ['LookupError: fewer than 2 leads land on pads']
    assert worker.failures == 1


def test_stop_is_bounded_while_an_alignment_is_stuck(slow):
    aligner, worker = slow
    worker.offer(0, 0)
    assert aligner.started.wait(GUARD_S)
    assert worker.stop(timeout=0.05) is False   # returned although the work is still stuck
    assert not worker.offer(1, 1)               # stopped: nothing more is taken
    aligner.release.set()


def test_pairs_offered_before_start_are_not_taken():
    worker = AlignmentWorker(lambda board, component: None)
    assert not worker.offer(0, 0)
