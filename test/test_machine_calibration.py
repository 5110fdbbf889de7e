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

"""Machine calibration: pixels to mm and the controller frame, the YAML file, the nozzle finder."""

from __future__ import annotations

import os

import numpy as np
import pytest

from picam_ros.machine.calibration import (
    CameraGeometry,
    find_nozzle_tip,
    load_machine_calibration,
    MachineCalibration,
    normalised,
    parse_machine_calibration,
    save_machine_calibration,
    scale_from_points,
)
from picam_ros.machine.composite import CompositeParams, Compositor, I420Planes


def calibration() -> MachineCalibration:
    return MachineCalibration(
        down=CameraGeometry(64, 48, mm_per_pixel=0.05, nozzle_x=30.0, nozzle_y=20.0),
        up=CameraGeometry(64, 48, mm_per_pixel=0.02, nozzle_x=34.0, nozzle_y=26.0))


def test_centroids_in_mm_are_relative_to_the_nozzle_and_scaled_per_camera():
    cal = calibration()
    assert cal.down.to_mm([[30.0, 20.0], [40.0, 10.0]]).tolist() == [[0.0, 0.0], [0.5, -0.5]]
    assert cal.up.to_mm([36.0, 26.0]).tolist() == [[0.04, 0.0]]
    points = np.array([[1.5, 2.25], [63.0, 0.0]])
    np.testing.assert_allclose(cal.up.to_pixels(cal.up.to_mm(points)), points)


def test_uncalibrated_nozzle_is_the_frame_centre():
    assert CameraGeometry(64, 48).nozzle == (31.5, 23.5)


def test_normalised_pixel_centres_fill_minus_half_to_half_open():
    values = normalised([[0, 0], [63, 47], [32, 24]], 64, 48)
    assert values[0].tolist() == [-0.5, -0.5]
    assert (values[1] < 0.5).all() and values[2].tolist() == [0.0, 0.0]


def test_composite_offset_draws_the_up_nozzle_on_the_down_datum():
    cal = calibration()
    dx, dy = cal.composite_offset()
    height, width = 48, 64
    down = I420Planes(np.zeros((height, width), np.uint8),
                      np.full((height // 2, width // 2), 128, np.uint8),
                      np.full((height // 2, width // 2), 128, np.uint8))
    up = I420Planes(np.zeros((height, width), np.uint8),
                    np.full((height // 2, width // 2), 200, np.uint8),  # not keyed
                    np.full((height // 2, width // 2), 128, np.uint8))
    ux, uy = (int(c) for c in cal.up.nozzle)
    up.y[uy, ux] = 200
    up.u[uy // 2, ux // 2] = 120  # this block is keyed (U <= 150, V >= 90)
    out = Compositor(CompositeParams(offset_x=dx, offset_y=dy, crosshair=False)).compose(down, up)
    assert np.argwhere(out.y == 100).tolist() == [[20, 30]]  # the down datum (x 30, y 20)


def test_crosshair_offset_is_the_datum_relative_to_the_frame_centre():
    assert calibration().crosshair_offset() == (-2, -4)


def test_calibration_steps_replace_one_value_each():
    cal = calibration().with_up_nozzle(10, 11).with_down_datum(12, 13).with_scale('up', 0.03)
    assert cal.up.nozzle == (10.0, 11.0) and cal.down.nozzle == (12.0, 13.0)
    assert cal.up.mm_per_pixel == 0.03 and cal.down.mm_per_pixel == 0.05
    with pytest.raises(ValueError, match="camera: expected 'up' or 'down'"):
        cal.with_scale('side', 1.0)


def test_scale_from_two_points_a_known_distance_apart():
    assert scale_from_points((0, 0), (30, 40), 2.5) == pytest.approx(0.05)
    with pytest.raises(ValueError, match='less than a pixel apart'):
        scale_from_points((3, 3), (3, 3), 1.0)


def test_yaml_file_round_trips(tmp_path):
    path = tmp_path / 'machine.yaml'
    save_machine_calibration(path, calibration())
    assert load_machine_calibration(path) == calibration()
    assert os.listdir(tmp_path) == ['machine.yaml']


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / 'machine.yaml'
    save_machine_calibration(path, calibration())
    before = path.read_text()

    def broken_fsync(fd):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(os, 'fsync', broken_fsync)
    with pytest.raises(OSError):
        save_machine_calibration(path, calibration().with_up_nozzle(1, 1))
    assert path.read_text() == before
    assert os.listdir(tmp_path) == ['machine.yaml']


@pytest.mark.parametrize('text, message', [
    ('version: 2\n', 'version: expected 1'),
    ('version: 1\nup: {width: 64, height: 48}\n', 'down: expected a mapping'),
    ('version: 1\ndown: {width: 64, height: 48, mm_per_pixel: -1}\nup: {width: 64, height: 48}',
     'down.mm_per_pixel: expected a positive number'),
    ('version: 1\ndown: {width: 64, height: 48, zoom: 2}\nup: {width: 64, height: 48}',
     r"down: unknown key\(s\) \['zoom'\]"),
    ('version: 1\ndown: {width: 64, height: 48, nozzle_x: 3}\nup: {width: 64, height: 48}',
     'give both or neither'),
    ('[unclosed', 'not valid YAML'),
])
def test_bad_files_say_which_key_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        parse_machine_calibration(text, 'machine.yaml')


def test_missing_file_is_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match='cannot read the machine calibration'):
        load_machine_calibration(tmp_path / 'nope.yaml')


def disc(luma: np.ndarray, cx: float, cy: float, radius: float, inner: float = 0.0) -> None:
    yy, xx = np.mgrid[0:luma.shape[0], 0:luma.shape[1]]
    r = np.hypot(xx - cx, yy - cy)
    luma[(r <= radius) & (r >= inner)] = 230


def test_nozzle_tip_is_the_round_blob_nearest_the_centre():
    luma = np.full((200, 240), 30, np.uint8)
    disc(luma, 150.3, 120.6, 12)          # the tip, 37 px from the centre
    disc(luma, 40, 40, 14)                # a round blob further away
    luma[97:102, 95:126] = 230            # a lead nearer the centre, elongated
    disc(luma, 120, 70, 9, inner=6)       # a ring nearer the centre: round outline, hollow
    tip = find_nozzle_tip(luma)
    assert (tip.x, tip.y) == pytest.approx((150.3, 120.6), abs=0.05)
    assert tip.diameter == pytest.approx(24, abs=1.0) and tip.roundness > 0.95


def test_no_round_blob_is_a_lookup_error_saying_what_was_seen():
    luma = np.full((100, 100), 30, np.uint8)
    luma[40:45, 20:80] = 230
    with pytest.raises(LookupError, match='among the 1 keyed blob'):
        find_nozzle_tip(luma)
