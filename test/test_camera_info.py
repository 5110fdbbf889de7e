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

"""Calibration YAML loading for ~/camera_info (camera_calibration / camera_info_manager format)."""

from pathlib import Path
import sys
from types import SimpleNamespace

import pytest

from picam_ros.camera.camera_info import (
    calibration_for,
    CalibrationError,
    CameraCalibration,
    fill_camera_info,
    load_calibration,
    parse_calibration,
    resolve_url,
)

DATA = Path(__file__).parent / 'data'
BOARD = DATA / 'board_camera_1024.yaml'


def _board_text() -> str:
    return BOARD.read_text()


def test_realistic_calibration_file_loads_every_field():
    cal = load_calibration(str(BOARD))
    assert (cal.width, cal.height, cal.camera_name) == (1024, 1024, 'board_camera')
    assert cal.distortion_model == 'plumb_bob'
    assert cal.k == (889.4127, 0, 514.2083, 0, 888.9371, 509.7765, 0, 0, 1)
    assert cal.d == (-0.041823, 0.062119, 0.000417, -0.000286, -0.021904)
    assert cal.r == (1, 0, 0, 0, 1, 0, 0, 0, 1)
    assert cal.p[:3] == (881.0412, 0, 513.9962) and len(cal.p) == 12
    assert cal.calibrated
    assert cal.source == str(BOARD)


def test_file_url_loads_the_same_calibration_as_the_path():
    assert load_calibration(f'file://{BOARD}') == load_calibration(str(BOARD))


def test_file_url_with_relative_path_is_rejected():
    with pytest.raises(CalibrationError, match='absolute path'):
        resolve_url('file://data/board.yaml')


def test_name_and_ros_home_substitutions_follow_camera_info_manager(tmp_path):
    path = resolve_url('file://${ROS_HOME}/camera_info/${NAME}.yaml', 'board_camera',
                       env={'ROS_HOME': str(tmp_path)})
    assert path == tmp_path / 'camera_info' / 'board_camera.yaml'
    home = resolve_url('${ROS_HOME}/x.yaml', env={'HOME': '/home/pi'})
    assert home == Path('/home/pi/.ros/x.yaml')


def test_name_substitution_without_a_camera_name_is_an_error():
    with pytest.raises(CalibrationError, match='NAME'):
        resolve_url('/calib/${NAME}.yaml')


def test_unknown_url_scheme_is_rejected_with_the_supported_ones():
    with pytest.raises(CalibrationError, match='unsupported camera_info URL scheme'):
        resolve_url('http://example.com/cal.yaml')


def test_package_url_without_ament_index_names_the_missing_module(monkeypatch):
    # Make ament_index_python unimportable even on a ROS machine.
    monkeypatch.setitem(sys.modules, 'ament_index_python', None)
    monkeypatch.setitem(sys.modules, 'ament_index_python.packages', None)
    with pytest.raises(CalibrationError, match='ament_index_python'):
        resolve_url('package://picam_ros/config/board.yaml')


def test_package_url_without_a_path_is_rejected():
    with pytest.raises(CalibrationError, match='package/path'):
        resolve_url('package://picam_ros')


def test_missing_file_error_names_the_path(tmp_path):
    missing = tmp_path / 'nope.yaml'
    with pytest.raises(CalibrationError, match='nope.yaml'):
        load_calibration(str(missing))


def test_missing_distortion_model_defaults_to_plumb_bob_like_the_parser():
    text = _board_text().replace('distortion_model: plumb_bob\n', '')
    assert parse_calibration(text).distortion_model == 'plumb_bob'


@pytest.mark.parametrize('key', ['image_width', 'camera_matrix', 'projection_matrix'])
def test_missing_required_key_is_named(key):
    lines = _board_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith(key + ':'))
    end = start + 1
    while end < len(lines) and lines[end].startswith(' '):
        end += 1
    with pytest.raises(CalibrationError, match=key):
        parse_calibration(''.join(lines[:start] + lines[end:]))


def test_matrix_data_count_must_match_rows_and_cols():
    text = _board_text().replace('data: [1, 0, 0, 0, 1, 0, 0, 0, 1]', 'data: [1, 0, 0, 0, 1]')
    with pytest.raises(CalibrationError, match=r'rectification_matrix is 3x3 but data has 5'):
        parse_calibration(text)


def test_wrong_matrix_shape_is_rejected():
    text = _board_text().replace('projection_matrix:\n  rows: 3\n  cols: 4',
                                 'projection_matrix:\n  rows: 4\n  cols: 3')
    with pytest.raises(CalibrationError, match='projection_matrix must be 3x4'):
        parse_calibration(text)


def test_coefficient_count_must_fit_the_distortion_model():
    text = _board_text().replace('distortion_model: plumb_bob',
                                 'distortion_model: rational_polynomial')
    with pytest.raises(CalibrationError, match='needs 8 coefficients, got 5'):
        parse_calibration(text)


def test_non_numeric_matrix_entry_is_rejected():
    text = _board_text().replace('889.4127', 'fx')
    with pytest.raises(CalibrationError, match='camera_matrix.data must be numbers'):
        parse_calibration(text)


def test_invalid_yaml_is_reported_with_its_source():
    with pytest.raises(CalibrationError, match='cal.yaml: not valid YAML'):
        parse_calibration('image_width: [1024', source='cal.yaml')


def test_optional_binning_and_roi_are_read():
    text = _board_text() + ('binning_x: 2\nbinning_y: 2\nroi:\n  x_offset: 8\n  y_offset: 4\n'
                            '  width: 512\n  height: 256\n  do_rectify: true\n')
    cal = parse_calibration(text)
    assert (cal.binning_x, cal.binning_y) == (2, 2)
    assert (cal.roi.x_offset, cal.roi.y_offset, cal.roi.width, cal.roi.height) == (8, 4, 512, 256)
    assert cal.roi.do_rectify is True


def test_size_mismatch_is_an_error_naming_both_sizes():
    with pytest.raises(CalibrationError, match='1024x1024 but the camera delivers 1920x1920'):
        calibration_for(str(BOARD), 1920, 1920)


def test_matching_size_gives_the_calibration_and_no_warning():
    cal, warning = calibration_for(str(BOARD), 1024, 1024)
    assert cal.calibrated and warning is None


def test_empty_url_gives_an_uncalibrated_message_with_a_warning():
    cal, warning = calibration_for('', 640, 480, 'cam')
    assert warning and 'uncalibrated' in warning
    assert not cal.calibrated
    assert (cal.width, cal.height) == (640, 480)
    # REP-104 / sensor_msgs/CameraInfo: D, K, R, P zeroed for an uncalibrated camera.
    assert not any(cal.k) and not any(cal.r) and not any(cal.p) and not any(cal.d)


def test_zero_camera_matrix_in_a_file_is_loaded_but_flagged(tmp_path):
    path = tmp_path / 'zero_k.yaml'
    path.write_text(_board_text().replace(
        '889.4127, 0, 514.2083, 0, 888.9371, 509.7765, 0, 0, 1', '0, 0, 0, 0, 0, 0, 0, 0, 0'))
    cal, warning = calibration_for(str(path), 1024, 1024)
    assert not cal.calibrated and 'uncalibrated' in warning


def test_non_finite_values_are_rejected():
    with pytest.raises(CalibrationError, match='non-finite'):
        CameraCalibration(width=4, height=4, k=(float('nan'),) + (0.0,) * 8)


def test_fill_camera_info_copies_every_field_into_the_message():
    cal = load_calibration(str(BOARD))
    msg = SimpleNamespace(roi=SimpleNamespace())
    assert fill_camera_info(msg, cal) is msg
    assert (msg.width, msg.height, msg.distortion_model) == (1024, 1024, 'plumb_bob')
    assert msg.d == list(cal.d) and msg.k == list(cal.k)
    assert msg.r == list(cal.r) and msg.p == list(cal.p)
    assert (msg.binning_x, msg.binning_y) == (0, 0)
    assert (msg.roi.x_offset, msg.roi.width, msg.roi.do_rectify) == (0, 0, False)
