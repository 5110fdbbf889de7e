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

"""Operator targets in mm: from the machine's calibration file, re-read when a step rewrites it."""

import os

import pytest

from picam_ros.machine.calibration import (
    CameraGeometry,
    MachineCalibration,
    save_machine_calibration,
)
from picam_ros.operator_page.targets import CalibratedTargets, camera_of


def blank(width=640, height=480):
    return MachineCalibration(CameraGeometry(width, height, 0.02), CameraGeometry(width, height))


def test_without_a_calibration_file_there_is_no_mm_target_and_the_reason_says_so(tmp_path):
    targets = CalibratedTargets(str(tmp_path / 'machine.yaml'))
    assert targets.to_mm(10.0, 20.0, 'down') is None
    assert 'does not exist yet' in targets.error
    assert CalibratedTargets('').to_mm(1.0, 2.0, 'down') is None


def test_a_camera_without_its_nozzle_or_reference_mark_is_not_calibrated(tmp_path):
    path = tmp_path / 'machine.yaml'
    save_machine_calibration(path, blank().with_up_nozzle(300.0, 200.0))
    targets = CalibratedTargets(str(path))
    assert targets.to_mm(10.0, 20.0, 'down') is None
    assert targets.error == 'down camera not calibrated: the reference mark is not set'
    up = targets.to_mm(310.0, 190.0, 'up')
    assert (up.x, up.y, up.camera) == (pytest.approx(0.1), pytest.approx(-0.1), 'up')


def test_a_rewritten_file_is_read_again(tmp_path):
    path = tmp_path / 'machine.yaml'
    save_machine_calibration(path, blank().with_down_datum(100.0, 100.0))
    targets = CalibratedTargets(str(path))
    first = targets.to_mm(150.0, 100.0, 'down')
    save_machine_calibration(path, blank().with_down_datum(200.0, 50.0))
    os.utime(path, ns=(1, 1))   # a different stamp even on a coarse-clock file system
    second = targets.to_mm(150.0, 100.0, 'down')
    assert (first.x, first.y) == (pytest.approx(1.0), pytest.approx(0.0))
    assert (second.x, second.y) == (pytest.approx(-1.0), pytest.approx(1.0))


def test_a_broken_file_gives_its_error_not_a_traceback(tmp_path):
    path = tmp_path / 'machine.yaml'
    path.write_text('version: 7\n')
    targets = CalibratedTargets(str(path))
    assert targets.to_mm(1.0, 2.0, 'down') is None
    assert 'version' in targets.error


def test_a_target_is_in_the_up_camera_for_leads_or_in_onlyup_else_the_down_camera():
    assert camera_of('leads', 'NORMAL') == 'up'
    assert camera_of('pads', 'ONLYUP') == 'down'
    assert camera_of('', 'ONLYUP') == 'up'
    assert [camera_of('', mode) for mode in ('NORMAL', 'ONLYDOWN', 'FROZEN', None)] == \
        ['down'] * 4
