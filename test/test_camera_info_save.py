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

"""Saving a calibration (set_camera_info): camera_calibration YAML, written all or nothing."""

import pytest

from picam_ros.camera.camera_info import (
    CalibrationError,
    CameraCalibration,
    load_calibration,
    RegionOfInterest,
    save_calibration,
)

CALIBRATION = CameraCalibration(
    width=640, height=480, camera_name='camera', distortion_model='plumb_bob',
    d=(-0.1, 0.01, 0.001, -0.002, 0.0), k=(500.0, 0.0, 320.5, 0.0, 501.0, 240.25, 0.0, 0.0, 1.0),
    r=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0),
    p=(498.0, 0.0, 321.0, 0.0, 0.0, 499.0, 241.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    binning_x=2, binning_y=2, roi=RegionOfInterest(8, 4, 320, 240, True))


def test_a_saved_calibration_loads_back_the_same(tmp_path):
    path = save_calibration(CALIBRATION, f'file://{tmp_path}/cal/${{NAME}}.yaml', 'camera')
    assert path == tmp_path / 'cal' / 'camera.yaml'
    loaded = load_calibration(str(path))
    assert loaded == CALIBRATION.__class__(**{**CALIBRATION.__dict__, 'source': str(path)})
    assert list(path.parent.iterdir()) == [path]   # no temporary file left behind


def test_an_empty_url_saves_where_camera_info_manager_looks(tmp_path, monkeypatch):
    monkeypatch.setenv('ROS_HOME', str(tmp_path))
    path = save_calibration(CALIBRATION, '', 'cam1')
    assert path == tmp_path / 'camera_info' / 'cam1.yaml'


def test_a_failed_write_leaves_the_old_target_untouched(tmp_path):
    target = tmp_path / 'calibration.yaml'
    target.mkdir()   # cannot be replaced by a file
    (target / 'keep').write_text('old')
    with pytest.raises(CalibrationError, match='cannot write calibration'):
        save_calibration(CALIBRATION, str(target))
    assert (target / 'keep').read_text() == 'old'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['calibration.yaml']


def test_an_unwritable_directory_is_a_clear_error(tmp_path):
    blocker = tmp_path / 'not-a-directory'
    blocker.write_text('')
    with pytest.raises(CalibrationError, match='cannot write calibration'):
        save_calibration(CALIBRATION, str(blocker / 'camera.yaml'))


def test_package_urls_are_not_written():
    with pytest.raises(CalibrationError, match='package://'):
        save_calibration(CALIBRATION, 'package://picam_ros/config/camera.yaml')
