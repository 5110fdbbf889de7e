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

"""The rate meter: frames per second over the last frames or the last seconds, bounded."""

from picam_ros.core.pacing import RateMeter

MS = 1_000_000


def test_the_rate_is_frames_per_second_of_the_kept_stamps():
    meter = RateMeter(count=5)
    for i in range(20):
        meter.add(i * 40 * MS)   # 25 frames/s
    assert meter.fps == 25.0 and meter.last == 19 * 40 * MS


def test_a_time_window_forgets_frames_older_than_it():
    meter = RateMeter(count=100, window_s=1.0)
    for i in range(10):
        meter.add(i * 100 * MS)   # 10 frames/s for one second, then silence
    assert meter.rate(950 * MS) == 10.0
    assert meter.rate(5000 * MS) == 0.0   # nothing in the last second: no rate


def test_fewer_than_two_frames_have_no_rate():
    meter = RateMeter()
    assert meter.fps == 0.0 and meter.last is None
    meter.add(5)
    assert meter.fps == 0.0
