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

"""rpicam-vid controls: one schema for parameters and flags, exact argv, conflicts, live."""

import dataclasses

import fake_rpicam_vid
from proctree import wait_until
import pytest

from picam_ros.camera.settings import (
    apply_controls,
    camera_parameter_rows,
    CameraSettings,
    control_rows,
    source_diagnostics,
)
from picam_ros.core.config import ConfigError
from picam_ros.sources import make_source, RpicamConfig
from picam_ros.sources.rpicam_controls import RpicamControls

#: One non-default value per control and the rpicam-vid options it must produce.
EXAMPLES = {
    'shutter': (10000, ['--shutter', '10000']),
    'gain': (2.5, ['--gain', '2.5']),
    'ev': (-1.5, ['--ev', '-1.5']),
    'exposure': ('sport', ['--exposure', 'sport']),
    'metering': ('spot', ['--metering', 'spot']),
    'awb': ('daylight', ['--awb', 'daylight']),
    'brightness': (0.25, ['--brightness', '0.25']),
    'contrast': (1.5, ['--contrast', '1.5']),
    'saturation': (0.0, ['--saturation', '0']),
    'sharpness': (2.0, ['--sharpness', '2']),
    'denoise': ('cdn_hq', ['--denoise', 'cdn_hq']),
    'autofocus_mode': ('continuous', ['--autofocus-mode', 'continuous']),
    'lens_position': (2.0, ['--lens-position', '2']),
    'hdr': ('sensor', ['--hdr', 'sensor']),
    'mode': ('2028:1520:12:P', ['--mode', '2028:1520:12:P']),
    'roi': ('0.25,0.25,0.5,0.5', ['--roi', '0.25,0.25,0.5,0.5']),
    'hflip': (True, ['--hflip']),
    'vflip': (True, ['--vflip']),
    'rotation': (180, ['--rotation', '180']),
}
AWB_GAINS = ({'awb_red': 1.5, 'awb_blue': 2.25}, ['--awbgains', '1.5,2.25'])
CASES = [({name: value}, argv) for name, (value, argv) in EXAMPLES.items()] + [AWB_GAINS]
IDS = [*EXAMPLES, 'awbgains']


def ros_values(controls):
    return {f'controls.{name}': value for name, value in controls.items()}


def rpicam_argv_tail(argv):
    """Return the options between the fixed ones and ``-o -``, without --save-pts."""
    start = argv.index('--inline') + 1
    tail = argv[start:argv.index('-o')]
    if '--save-pts' in tail:
        at = tail.index('--save-pts')
        del tail[at:at + 2]
    return tail


def test_every_control_has_an_example_here():
    names = {f.name for f in dataclasses.fields(RpicamControls)}
    assert names == set(EXAMPLES) | set(AWB_GAINS[0])


def test_defaults_pass_no_control_to_rpicam_vid():
    assert RpicamControls().argv() == []


def test_controls_are_live_parameters_and_runner_flags_from_one_schema():
    rows = {row.name: row for row in camera_parameter_rows()}
    for name in {f.name for f in dataclasses.fields(RpicamControls)}:
        row = rows[f'controls.{name}']
        assert not row.read_only
        assert row.flag.startswith('--')
    assert rows['controls.shutter'].flag == '--shutter'
    assert rows['controls.roi'].flag == '--camera-roi'   # --roi is the centroid ROI
    assert rows['controls.contrast'].maximum == 15.99
    assert rows['controls.metering'].choices == ('centre', 'spot', 'average', 'matrix',
                                                 'custom')


@pytest.mark.parametrize('controls, argv', CASES, ids=IDS)
def test_a_control_set_at_start_gives_its_rpicam_option(controls, argv):
    settings = CameraSettings.from_parameters({'source': 'rpicam', **ros_values(controls)})
    assert rpicam_argv_tail(settings.source_config().argv()) == argv


@pytest.mark.parametrize('values, parameter, words', [
    ({'controls.awb_red': 1.5}, 'controls.awb_blue', 'together'),
    ({'controls.awb_red': 1.5, 'controls.awb_blue': 2.0, 'controls.awb': 'cloudy'},
     'controls.awb', 'no effect'),
    ({'controls.lens_position': 1.0, 'controls.autofocus_mode': 'auto'},
     'controls.lens_position', 'conflicts'),
    ({'controls.shutter': 5000, 'controls.gain': 2.0, 'controls.ev': 1.0}, 'controls.ev',
     'auto exposure is off'),
    ({'controls.roi': '0.5,0.5,0.75,0.25'}, 'controls.roi', 'past the sensor'),
    ({'controls.mode': '2028x1520'}, 'controls.mode', 'sensor mode'),
    ({'controls.rotation': 90}, 'controls.rotation', 'not one of'),
    ({'controls.contrast': 16.0}, 'controls.contrast', 'maximum 15.99'),
])
def test_conflicting_or_bad_controls_are_refused_naming_the_parameter(values, parameter,
                                                                      words):
    with pytest.raises(ValueError) as error:   # a ConfigError, or a row's range check
        CameraSettings.from_parameters({'source': 'rpicam', **values})
    assert str(error.value).startswith(f'{parameter}: ') and words in str(error.value)


@pytest.mark.parametrize('extra', ['--shutter 2000', '--shutter=2000', '--analoggain 4'])
def test_a_control_also_in_extra_args_is_an_error_naming_both_places(extra):
    values = {'source': 'rpicam', 'extra_args': extra,
              'controls.shutter': 1000, 'controls.gain': 0.0}
    if 'gain' in extra:
        values.update({'controls.shutter': 0, 'controls.gain': 2.0})
    with pytest.raises(ConfigError) as error:
        CameraSettings.from_parameters(values)
    message = str(error.value)
    assert message.startswith('controls.') and 'extra_args' in message


def test_an_option_only_in_extra_args_is_passed_through():
    settings = CameraSettings.from_parameters(
        {'source': 'rpicam', 'extra_args': '--shutter 2000 --tuning-file x.json',
         'controls.hflip': True})
    assert rpicam_argv_tail(settings.source_config().argv()) == [
        '--hflip', '--shutter', '2000', '--tuning-file', 'x.json']


def start_fake(tmp_path, monkeypatch, **values):
    starts = fake_rpicam_vid.install_on_path(tmp_path, monkeypatch)
    settings = CameraSettings.from_parameters(
        {'source': 'rpicam', 'width': 64, 'height': 48, 'fps': 25.0, **values})
    source = make_source(settings.source_config())
    source.start()
    return source, starts


def all_control_values(**changes):
    values = {row.name: row.default for row in control_rows()}
    values.update(ros_values(changes))
    return values


@pytest.mark.parametrize('controls, argv', [CASES[0], CASES[-1]], ids=['shutter', 'awbgains'])
def test_fake_rpicam_vid_gets_the_start_controls(tmp_path, monkeypatch, controls, argv):
    source, starts = start_fake(tmp_path, monkeypatch, **ros_values(controls))
    try:
        source.read(5.0)
        assert rpicam_argv_tail(starts()[0]) == argv
    finally:
        source.stop()


def test_every_control_changes_live_with_the_exact_argv_and_no_failure_restart(
        tmp_path, monkeypatch):
    source, starts = start_fake(tmp_path, monkeypatch)
    try:
        source.read(5.0)
        for number, (controls, argv) in enumerate(CASES, start=1):
            assert apply_controls(source, all_control_values(**controls)) is None
            assert wait_until(lambda n=number: source.control_changes == n, timeout=10.0)
            # The new child logs its argv when it starts, before its first frame.
            assert wait_until(lambda n=number: len(starts()) == n + 1, timeout=10.0)
            assert rpicam_argv_tail(starts()[-1]) == argv, controls
            assert source.read(5.0) is not None
        assert len(starts()) == len(CASES) + 1
        assert source.stats.restarts == 0   # no backoff: each change restarts at once
        assert source.last_control_gap is not None
        assert source_diagnostics(source)['control changes'] == len(CASES)
    finally:
        source.stop()


def test_a_refused_live_change_keeps_the_running_controls(tmp_path, monkeypatch):
    source, starts = start_fake(tmp_path, monkeypatch, extra_args='--shutter 500')
    try:
        source.read(5.0)
        reason = apply_controls(source, all_control_values(shutter=2000))
        assert reason.startswith('controls.shutter: ') and 'extra_args' in reason
        assert source.config.controls == RpicamControls()
        assert source.control_changes == 0 and len(starts()) == 1
    finally:
        source.stop()


def test_controls_on_another_source_are_refused_live():
    source = make_source(CameraSettings.from_parameters({}).source_config())
    reason = apply_controls(source, all_control_values(gain=2.0))
    assert reason is not None and 'rpicam source' in reason


def test_rpicam_config_refuses_save_pts_in_extra_args_when_it_manages_it():
    with pytest.raises(ConfigError, match='--save-pts'):
        RpicamConfig(extra_args=('--save-pts', 'x.txt'))
    assert '--save-pts' in RpicamConfig(extra_args=('--save-pts', 'x.txt'),
                                        sensor_timestamps=False).argv()
