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

"""The Pi camera's controls as one schema: rpicam-vid options, their ranges and conflicts.

Names, choices and ranges follow rpicam-apps 1.3.0 (``core/options.hpp`` and the option
tables in ``core/options.cpp``): brightness is clamped to -1..1 and contrast, saturation and
sharpness to 0..15.99 there; the mode tables list the metering, exposure, AWB and autofocus
names. Older ``libcamera-vid`` builds (before early 2023) take the same option names but lack
``--autofocus-mode``, ``--lens-position`` and ``--hdr``; point ``binary`` at ``libcamera-vid``
and leave those at their defaults there.

A control at its default is not passed at all, so rpicam-vid keeps its own behaviour (auto
exposure, auto white balance, no lens movement). Every control is live: a change restarts
rpicam-vid with the new argv (see ``RpicamSource.set_controls``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
import re

from picam_ros.core.config import config_field, ConfigBase, ConfigError

_MODE = re.compile(r'^\d+:\d+(:\d+(:[PUpu])?)?$')


def _parse_mode(value: object) -> str:
    if not isinstance(value, str):
        raise ConfigError('', f'must be a string, got {value!r}')
    if value and not _MODE.match(value):
        raise ConfigError('', f'{value!r} is not a sensor mode W:H[:bit-depth[:P|U]], '
                              f'e.g. 2028:1520:12:P')
    return value


def _parse_roi(value: object) -> str:
    """Check a digital crop ``x,y,w,h`` in fractions of the sensor ('' = the whole sensor)."""
    if not isinstance(value, str):
        raise ConfigError('', f'must be a string, got {value!r}')
    if not value:
        return value
    try:
        x, y, w, h = (float(part) for part in value.split(','))
    except ValueError:
        raise ConfigError('', f'{value!r} is not x,y,w,h (fractions of the sensor, '
                              f'e.g. 0.25,0.25,0.5,0.5)') from None
    if not (0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 and 0 < h <= 1):
        raise ConfigError('', f'{value!r}: x and y must be in [0, 1), w and h in (0, 1]')
    if x + w > 1 + 1e-9 or y + h > 1 + 1e-9:
        raise ConfigError('', f'{value!r} reaches past the sensor (x + w and y + h <= 1)')
    return value


def _control(default: object, description: str, option: str, **kwargs: object) -> object:
    """Declare a live control, passed to rpicam-vid as ``option`` when not at its default."""
    return config_field(default, description, live=True, option=option, **kwargs)


@dataclass(frozen=True)
class RpicamControls(ConfigBase):
    """rpicam-vid's image controls (the ROS parameters ``controls.<name>``)."""

    shutter: int = _control(0, 'fixed exposure time in microseconds (0: auto exposure)',
                            '--shutter', low=0, high=1_000_000_000, flag='--shutter')
    gain: float = _control(0.0, 'fixed total gain, analogue first (0: auto); the sensor caps '
                                'it', '--gain', low=0.0, high=64.0, flag='--gain')
    ev: float = _control(0.0, 'exposure compensation in stops (auto exposure only)', '--ev',
                         low=-8.0, high=8.0, flag='--ev')
    exposure: str = _control('normal', 'auto-exposure mode', '--exposure',
                             choices=('normal', 'sport', 'short', 'long', 'custom'),
                             flag='--exposure')
    metering: str = _control('centre', 'auto-exposure metering', '--metering',
                             choices=('centre', 'spot', 'average', 'matrix', 'custom'),
                             flag='--metering')
    awb: str = _control('auto', 'auto white balance mode', '--awb',
                        choices=('auto', 'normal', 'incandescent', 'tungsten', 'fluorescent',
                                 'indoor', 'daylight', 'cloudy', 'custom'), flag='--awb')
    awb_red: float = _control(0.0, 'fixed red gain of --awbgains (0 with awb_blue 0: auto '
                                   'white balance)', '--awbgains', low=0.0, high=32.0,
                              flag='--awb-red')
    awb_blue: float = _control(0.0, 'fixed blue gain of --awbgains (set together with '
                                    'awb_red)', '--awbgains', low=0.0, high=32.0,
                               flag='--awb-blue')
    brightness: float = _control(0.0, 'brightness offset', '--brightness', low=-1.0, high=1.0,
                                 flag='--brightness')
    contrast: float = _control(1.0, 'contrast (1: normal)', '--contrast', low=0.0, high=15.99,
                               flag='--contrast')
    saturation: float = _control(1.0, 'colour saturation (1: normal, 0: greyscale)',
                                 '--saturation', low=0.0, high=15.99, flag='--saturation')
    sharpness: float = _control(1.0, 'sharpening (1: normal)', '--sharpness', low=0.0,
                                high=15.99, flag='--sharpness')
    denoise: str = _control('auto', 'denoise mode', '--denoise',
                            choices=('auto', 'off', 'cdn_off', 'cdn_fast', 'cdn_hq'),
                            flag='--denoise')
    autofocus_mode: str = _control('default', 'autofocus mode (cameras with a focus motor)',
                                   '--autofocus-mode',
                                   choices=('default', 'manual', 'auto', 'continuous'),
                                   flag='--autofocus-mode')
    lens_position: float | None = _control(
        None, 'fixed focus in dioptres, 1/distance in m (0: infinity); implies manual focus',
        '--lens-position', low=0.0, high=32.0, kind=float, flag='--lens-position')
    hdr: str = _control('off', 'high dynamic range (sensor: Camera Module 3; single-exp: Pi 5)',
                        '--hdr', choices=('off', 'auto', 'sensor', 'single-exp'), flag='--hdr')
    mode: str = _control('', 'sensor mode W:H[:bit-depth[:P|U]] (empty: chosen by rpicam-vid)',
                         '--mode', kind=str, parse=_parse_mode, flag='--camera-mode')
    roi: str = _control('', 'digital crop x,y,w,h as fractions of the sensor (empty: none)',
                        '--roi', kind=str, parse=_parse_roi, flag='--camera-roi')
    hflip: bool = _control(False, 'mirror the image horizontally', '--hflip', flag='--hflip')
    vflip: bool = _control(False, 'flip the image vertically', '--vflip', flag='--vflip')
    rotation: int = _control(0, 'rotate the image (degrees)', '--rotation', choices=(0, 180),
                             flag='--rotation')

    def __post_init__(self) -> None:
        super().__post_init__()
        if (self.awb_red > 0) != (self.awb_blue > 0):
            raise ConfigError('awb_blue' if self.awb_red > 0 else 'awb_red',
                              'set awb_red and awb_blue together (both 0: auto white balance)')
        if self.awb_red > 0 and self.awb not in ('auto', 'normal'):
            raise ConfigError('awb', f'{self.awb!r} has no effect with fixed awb_red/awb_blue '
                                     f'gains; set one of them')
        if self.lens_position is not None and self.autofocus_mode in ('auto', 'continuous'):
            raise ConfigError('lens_position', f'a fixed lens position conflicts with '
                                               f'autofocus_mode {self.autofocus_mode!r}')
        if self.shutter and self.gain:
            for name, default in (('ev', 0.0), ('exposure', 'normal'), ('metering', 'centre')):
                if getattr(self, name) != default:
                    raise ConfigError(name, 'has no effect with both shutter and gain fixed '
                                            '(auto exposure is off)')

    def argv(self) -> list[str]:
        """Return the rpicam-vid options of every control that differs from its default."""
        args: list[str] = []
        for name, default, meta in self.field_table():
            value = getattr(self, name)
            if value == default or name == 'awb_blue':
                continue
            option = meta['option']
            if name == 'awb_red':
                args += [option, f'{self.awb_red:g},{self.awb_blue:g}']
            elif isinstance(value, bool):
                args.append(option)
            elif isinstance(value, float):
                args += [option, f'{value:g}']
            else:
                args += [option, str(value)]
        return args

    def changed(self) -> dict[str, object]:
        """Return the controls set away from their defaults (for diagnostics)."""
        return {name: getattr(self, name) for name, default, _ in self.field_table()
                if getattr(self, name) != default}


def _option_owners() -> dict[str, tuple[str, ...]]:
    owners: dict[str, tuple[str, ...]] = {}
    for name, _default, meta in RpicamControls.field_table():
        owners[meta['option']] = (*owners.get(meta['option'], ()), name)
    owners['--analoggain'] = owners['--gain']
    return owners


#: Every option a control owns, with rpicam-apps' synonyms (``--analoggain`` is ``--gain``).
OPTION_OWNERS = _option_owners()


def options_in(args: Iterable[str]) -> list[str]:
    """Return the long options in an argument list (``--shutter=5``, ``--shutter 5`` alike)."""
    return [arg.split('=', 1)[0] for arg in args if arg.startswith('--')]


def check_extra_args(controls: RpicamControls, extra_args: Iterable[str]) -> None:
    """Refuse a control that is set both as a control and in ``extra_args``.

    Raises :class:`ConfigError` under the control's name, naming the other place too.
    """
    for option in options_in(extra_args):
        for name in OPTION_OWNERS.get(option, ()):
            default = RpicamControls.__dataclass_fields__[name].default
            if getattr(controls, name) != default:
                raise ConfigError(name, f'is set here and also in extra_args ({option}); '
                                        f'give it in one place')
