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


"""The machine's frame-pair logic without ROS, on the synthetic footprint and part scenes."""

from __future__ import annotations

import numpy as np
import pytest

from picam_ros.core.config import ConfigError
from picam_ros.core.frames import Frame
from picam_ros.machine.calibration import CameraGeometry, find_nozzle_tip, MachineCalibration
from picam_ros.machine.composite import composite_numpy, CompositeParams, I420Planes
from picam_ros.machine.settling import FreshRequest
from picam_ros.machine.vision import LEADS_KEYING, MachineVision, measure
from picam_ros.sources.synthetic import (
    KIND_LEAD,
    KIND_NOZZLE,
    KIND_RECT,
    SyntheticConfig,
    SyntheticSource,
)

SIZE = {'width': 640, 'height': 480}
SCALE = 0.02   # mm per pixel, both cameras


def scenes(seed=0, **pose):
    up = SyntheticSource(SyntheticConfig(**SIZE, scene='part', paced=False, seed=seed, **pose))
    down = SyntheticSource(SyntheticConfig(**SIZE, scene='footprint', paced=False, seed=seed))
    return up, down


def machine(**nozzle):
    up = CameraGeometry(SIZE['width'], SIZE['height'], SCALE, **nozzle)
    down = CameraGeometry(SIZE['width'], SIZE['height'], SCALE)
    return MachineVision(MachineCalibration(down, up))


def points(blobs):
    return np.array(sorted(zip(blobs['x'], blobs['y'], strict=True)))


def test_part_scene_leads_are_exactly_the_chroma_gated_blobs():
    up, _ = scenes(part_dx=3.5, part_dy=-2.0, part_theta=7.0)
    frame = up.render(0)
    truth = up.ground_truth(frame)
    found = measure(frame, LEADS_KEYING, CameraGeometry(640, 480), 'component').blobs
    assert np.allclose(points(found), points(truth[truth['kind'] == KIND_LEAD]), atol=1e-9)


def test_footprint_scene_pads_are_exactly_the_luma_keyed_blobs():
    _, down = scenes(seed=4)
    frame = down.render(0)
    truth = down.ground_truth(frame)
    vision = machine()
    assert np.allclose(points(vision.measure_board(frame).blobs),
                       points(truth[truth['kind'] == KIND_RECT]), atol=1e-9)


def test_nozzle_tip_is_found_at_the_configured_nozzle():
    up, _ = scenes(nozzle_dx=6.25, nozzle_dy=-4.5)
    frame = up.render(0)
    tip = find_nozzle_tip(frame.y)
    nozzle = up.ground_truth(frame)
    nozzle = nozzle[nozzle['kind'] == KIND_NOZZLE][0]
    assert (tip.x, tip.y) == pytest.approx((nozzle['x'], nozzle['y']), abs=1e-9)
    # A radius-10 disc rasterised at a sub-pixel centre: its centroid is within 0.2 px.
    assert (tip.x, tip.y) == pytest.approx(up.config.nozzle, abs=0.2)


@pytest.mark.parametrize('seed', range(8))
def test_alignment_of_the_part_recovers_the_known_pose(seed):
    rng = np.random.default_rng(seed)
    pose = {'part_dx': float(rng.uniform(-6, 6)), 'part_dy': float(rng.uniform(-6, 6)),
            'part_theta': float(rng.uniform(-10, 10)),
            'nozzle_dx': float(rng.uniform(-8, 8)), 'nozzle_dy': float(rng.uniform(-8, 8))}
    up, down = scenes(seed, **pose)
    vision = machine(nozzle_x=up.config.nozzle[0], nozzle_y=up.config.nozzle[1])
    fu, fd = up.render(0), down.render(0)
    result = vision.align(vision.measure_board(fd), vision.measure_component(fu))
    dx, dy, theta = up.alignment_truth()
    # The pose is ideal, the blobs rasterised (each lead's centroid off by up to ~0.2 px):
    # the fit over 8-28 leads lands within 0.25 px and 0.25 degrees of it (30 seeds: at most
    # 0.15 px and 0.19 degrees).
    assert result.dx == pytest.approx(dx * SCALE, abs=0.25 * SCALE)
    assert result.dy == pytest.approx(dy * SCALE, abs=0.25 * SCALE)
    assert result.theta == pytest.approx(theta, abs=0.25)
    leads = len(vision.measure_component(fu).blobs)
    assert result.matched == result.expected == leads
    verdict = vision.judge(result)
    assert verdict.status == 'PASS' and not result.ambiguous(vision.verdict.max_residual_mm)


def test_alignment_truth_undoes_the_part_pose():
    up, _ = scenes(part_dx=10.0, part_dy=-5.0, part_theta=12.0)
    dx, dy, theta = up.alignment_truth()
    angle = np.radians(theta)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    lead_offset = np.array([10.0, -5.0])   # the part centre relative to the nozzle
    assert rotation @ lead_offset + (dx, dy) == pytest.approx((0.0, 0.0), abs=1e-12)
    assert theta == -12.0


def test_footprint_scene_has_no_alignment_truth():
    _, down = scenes()
    with pytest.raises(ValueError, match='no part'):
        down.alignment_truth()


def test_part_that_does_not_fit_the_frame_is_a_config_error():
    with pytest.raises(ConfigError, match='scene'):
        SyntheticSource(SyntheticConfig(width=256, height=128, scene='part', seed=1))


def test_machine_scenes_do_not_drift():
    up, _ = scenes()
    assert up.offset(0) == up.offset(57) == (0, 0)


def test_composite_of_a_pair_matches_the_numpy_reference():
    up, down = scenes(part_dx=4.0)
    vision = machine()
    vision.composite = CompositeParams(offset_x=8, offset_y=-4, nozzle_x=3)
    fu, fd = up.render(0), down.render(0)
    assert vision.on_down(fd) is None          # no up frame yet
    vision.on_up(fu)
    up.render(1, fu)                           # the source refills its buffer: a copy was kept
    out = vision.on_down(fd)
    expected = I420Planes(*(np.empty_like(p) for p in out))
    composite_numpy(I420Planes(fd.y, fd.u, fd.v), I420Planes(*up.render(0).planes()[:3]),
                    vision.composite, expected)
    for got, want in zip(out, expected, strict=True):
        np.testing.assert_array_equal(got, want)


def frame_at(mono_ns, luma=0):
    source = SyntheticSource(SyntheticConfig(width=256, height=192, paced=False))
    frame = Frame(source.format)
    frame.y[:] = luma
    frame.mono_ns = mono_ns
    return frame


def test_fresh_request_takes_the_first_frame_after_the_request():
    request = FreshRequest(requested_ns=1000)
    assert not request.offer(frame_at(999))
    assert not request.offer(frame_at(1000))
    assert request.offer(frame_at(1001))


def test_fresh_request_with_settling_waits_for_a_still_image():
    request = FreshRequest(requested_ns=0, settle_threshold=1.0)
    assert not request.offer(frame_at(1, luma=10))    # nothing to compare with yet
    assert not request.offer(frame_at(2, luma=40))    # moved: difference 30
    assert request.difference == pytest.approx(30.0)
    assert request.offer(frame_at(3, luma=40))        # still
    assert request.difference == 0.0


def test_every_frame_of_each_camera_feeds_its_still_noise():
    up, down = scenes()
    vision = machine()
    for sequence in range(3):
        vision.on_up(up.render(sequence))
        vision.on_down(down.render(sequence))
    # The static scenes differ only by noise 0..6: about 2.3 grey levels between frames.
    assert vision.noise['component'].floor == pytest.approx(48 / 21, abs=0.4)
    assert vision.noise['board'].floor == pytest.approx(48 / 21, abs=0.4)


def test_fresh_waiters_are_answered_on_the_capture_thread_with_centroids():
    up, down = scenes()
    vision = machine()
    waiters = vision.request_fresh(requested_ns=100)
    stale = down.render(0)
    stale.mono_ns = 50
    vision.on_down(stale)
    assert not waiters['board'].done.is_set()
    fresh = down.render(1)
    fresh.mono_ns = 150
    vision.on_down(fresh)
    assert waiters['board'].done.is_set()
    assert waiters['board'].result.sequence == 1
    assert waiters['board'].result.count == len(down.ground_truth(1))
    frame = up.render(3)
    frame.mono_ns = 200
    vision.on_up(frame)
    assert waiters['component'].result.sequence == 3
