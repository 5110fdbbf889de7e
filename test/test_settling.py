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

"""Settling: a fresh frame is a still one, judged against the camera's measured noise."""

from __future__ import annotations

import numpy as np
import pytest

from picam_ros.machine.settling import FreshRequest, SettleRule, StillNoise
from picam_ros.sources.synthetic import SyntheticConfig, SyntheticSource


def still_frames(count, seed=0):
    """Frames of the static part scene: only the sensor noise changes (and the stamp rows)."""
    source = SyntheticSource(SyntheticConfig(width=640, height=480, scene='footprint',
                                             paced=False, seed=seed))
    for sequence in range(count):
        frame = source.render(sequence)
        frame.mono_ns = 1000 + sequence
        yield frame


def test_still_noise_is_the_difference_of_consecutive_still_frames():
    noise = StillNoise()
    assert noise.floor is None
    frames = list(still_frames(6))
    for frame in frames:
        noise.add(frame)
    # Noise 0..6 uniform per pixel: two independent draws differ by 48/21 = 2.29 on average.
    assert noise.floor == pytest.approx(48 / 21, abs=0.3)


def test_still_noise_keeps_the_smallest_recent_difference_so_motion_does_not_raise_it():
    noise = StillNoise(window=10)
    frames = list(still_frames(4))
    for frame in frames:
        noise.add(frame)
    still = noise.floor
    moved = frames[-1]
    moved.y[:] = np.roll(moved.y, 40, axis=1)     # the gantry moves
    noise.add(moved)
    assert noise.floor == still


def test_the_rule_follows_the_noise_above_its_fixed_floor():
    assert SettleRule(1.0, 1.5).limit(2.3) == pytest.approx(3.45)
    assert SettleRule(5.0, 1.5).limit(2.3) == 5.0
    assert SettleRule(1.0, 1.5).limit(None) is None      # noise not measured yet: wait
    assert SettleRule(2.0, 0.0).limit(None) == 2.0
    assert not SettleRule(0.0, 0.0).settles


def test_a_still_scene_settles_with_the_noise_rule_where_the_old_fixed_threshold_never_did():
    noise = StillNoise()
    fixed = FreshRequest(requested_ns=0, settle_threshold=2.0)
    following = FreshRequest(requested_ns=0, settle_threshold=1.0, noise=noise,
                             noise_factor=1.5)
    taken = None
    for index, frame in enumerate(still_frames(12)):
        noise.add(frame)
        assert not fixed.offer(frame)
        if taken is None and following.offer(frame):
            taken = index
    assert taken == 1           # the second frame after the request: one difference measured
    assert fixed.difference > 2.0


def test_a_timeout_names_the_measured_difference_and_the_threshold():
    noise = StillNoise()
    request = FreshRequest(requested_ns=0, settle_threshold=0.5, noise=noise, noise_factor=0.1)
    for frame in still_frames(5):
        noise.add(frame)
        request.offer(frame)
    message = request.why_not('board', 3.0)
    assert message.startswith('board: 5 frames arrived within 3 s (fresh.timeout) but none '
                              'was still: last frame difference 2.')
    assert f'> threshold {request.threshold:.2f} grey levels' in message
    assert 'fresh.settle_threshold 0.5, fresh.settle_noise_factor 0.1 x still-frame' in message


def test_a_timeout_without_frames_says_none_arrived():
    request = FreshRequest(requested_ns=0, settle_threshold=1.0)
    assert request.why_not('component', 3.0) == (
        'no component frame arrived within 3 s (fresh.timeout): the camera delivers no frames')
