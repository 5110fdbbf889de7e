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

"""Camera calibration for ``~/camera_info``, without ROS.

Reads the YAML file that ``camera_calibration`` writes and ``camera_info_manager`` loads
(keys ``image_width``, ``image_height``, ``camera_name``, ``camera_matrix``,
``distortion_model``, ``distortion_coefficients``, ``rectification_matrix``,
``projection_matrix``, optional ``binning_x``/``binning_y``/``roi``), from a plain path or
a ``file://`` / ``package://`` URL with camera_info_manager's ``${NAME}`` and ``${ROS_HOME}``
substitutions. A calibration made at another resolution is refused rather than silently
scaled: sensor modes crop and bin, so intrinsics do not simply scale with the image size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import contextlib
from dataclasses import dataclass, field
import math
import os
from pathlib import Path
from typing import Any

import yaml

# Distortion models sensor_msgs knows (sensor_msgs/distortion_models.hpp) with the number of
# coefficients each one uses; an unknown model is passed through unchecked.
DISTORTION_COEFFICIENTS = {'plumb_bob': 5, 'rational_polynomial': 8, 'equidistant': 4}


class CalibrationError(ValueError):
    """A calibration file or URL that cannot be used; the message names the problem."""


@dataclass(frozen=True)
class RegionOfInterest:
    """sensor_msgs/RegionOfInterest; all zeros means the full image."""

    x_offset: int = 0
    y_offset: int = 0
    width: int = 0
    height: int = 0
    do_rectify: bool = False


@dataclass(frozen=True)
class CameraCalibration:
    """Intrinsics in sensor_msgs/CameraInfo terms (row-major k, r, p)."""

    width: int
    height: int
    camera_name: str = ''
    distortion_model: str = 'plumb_bob'
    d: tuple[float, ...] = ()
    k: tuple[float, ...] = (0.0,) * 9
    r: tuple[float, ...] = (0.0,) * 9
    p: tuple[float, ...] = (0.0,) * 12
    binning_x: int = 0
    binning_y: int = 0
    roi: RegionOfInterest = field(default_factory=RegionOfInterest)
    source: str = ''   # where it came from, for messages

    def __post_init__(self) -> None:
        for name, size in (('k', 9), ('r', 9), ('p', 12)):
            values = getattr(self, name)
            if len(values) != size:
                raise CalibrationError(f'{name} needs {size} values, got {len(values)}')
        for name in ('d', 'k', 'r', 'p'):
            if not all(math.isfinite(v) for v in getattr(self, name)):
                raise CalibrationError(f'{name} contains a non-finite value')
        if self.width < 0 or self.height < 0 or self.binning_x < 0 or self.binning_y < 0:
            raise CalibrationError('image size and binning must not be negative')
        expected = DISTORTION_COEFFICIENTS.get(self.distortion_model)
        # An uncalibrated message carries no coefficients at all; a calibrated one must match.
        if expected is not None and self.calibrated and len(self.d) != expected:
            raise CalibrationError(
                f'distortion model {self.distortion_model!r} needs {expected} coefficients, '
                f'got {len(self.d)}')

    @property
    def calibrated(self) -> bool:
        """Tell whether K is non-zero (sensor_msgs/CameraInfo: K[0] == 0 means uncalibrated)."""
        return self.k[0] != 0.0

    @classmethod
    def uncalibrated(cls, width: int, height: int, camera_name: str = '') -> CameraCalibration:
        """Return the honest calibration of an uncalibrated camera: D, K, R, P zeroed.

        sensor_msgs/CameraInfo says the matrices of an uncalibrated camera are left zeroed out
        and that clients may test ``K[0] == 0``; the image size is still reported.
        """
        return cls(width=width, height=height, camera_name=camera_name,
                   distortion_model='plumb_bob', d=(0.0,) * 5, source='uncalibrated')

    def check_size(self, width: int, height: int) -> None:
        """Raise CalibrationError when the calibration was made for another image size."""
        if (self.width, self.height) != (width, height):
            raise CalibrationError(
                f'calibration {self.source or self.camera_name!r} is for '
                f'{self.width}x{self.height} but the camera delivers {width}x{height}; '
                'recalibrate at this size or set camera_info_url to a matching file')


def resolve_url(url: str, camera_name: str = '',
                env: Mapping[str, str] | None = None) -> Path:
    """Turn a camera_info URL or a plain path into a file path.

    Accepts what camera_info_manager accepts (``file:///abs/path``, ``package://pkg/rel``,
    with ``${NAME}`` and ``${ROS_HOME}`` substituted) plus a plain filesystem path.
    ``package://`` needs ament_index_python; without it the error says so.
    """
    env = os.environ if env is None else env
    resolved = _substitute(url.strip(), camera_name, env)
    if not resolved:
        raise CalibrationError('empty camera_info URL')
    lowered = resolved.lower()
    if lowered.startswith('file://'):
        path = resolved[len('file://'):]
        if not path.startswith('/'):
            raise CalibrationError(f'file:// URL must hold an absolute path: {url!r}')
        return Path(path)
    if lowered.startswith('package://'):
        package, _, relative = resolved[len('package://'):].partition('/')
        if not package or not relative:
            raise CalibrationError(f'package:// URL needs package/path: {url!r}')
        try:
            from ament_index_python.packages import get_package_share_directory
        except ImportError:
            raise CalibrationError(
                f'cannot resolve {url!r}: package:// URLs need ament_index_python '
                '(source a ROS 2 installation) — or use a file path') from None
        try:
            share = get_package_share_directory(package)
        except (LookupError, OSError) as exc:   # not found (KeyError) / no AMENT_PREFIX_PATH
            raise CalibrationError(f'cannot resolve {url!r}: package {package!r} '
                                   f'not found ({exc})') from None
        return Path(share) / relative
    if '://' in resolved:
        raise CalibrationError(f'unsupported camera_info URL scheme: {url!r} '
                               '(use file://, package:// or a path)')
    return Path(resolved).expanduser()


def _substitute(url: str, camera_name: str, env: Mapping[str, str]) -> str:
    if '${ROS_HOME}' in url:
        ros_home = env.get('ROS_HOME') or (
            str(Path(env['HOME']) / '.ros') if env.get('HOME') else '')
        if not ros_home:
            raise CalibrationError(f'{url!r} uses ${{ROS_HOME}} but neither ROS_HOME nor '
                                   'HOME is set')
        url = url.replace('${ROS_HOME}', ros_home)
    if '${NAME}' in url:
        if not camera_name:
            raise CalibrationError(f'{url!r} uses ${{NAME}} but no camera name is known')
        url = url.replace('${NAME}', camera_name)
    return url


def load_calibration(url: str, camera_name: str = '') -> CameraCalibration:
    """Load a calibration YAML from a path or URL (see resolve_url)."""
    path = resolve_url(url, camera_name)
    try:
        text = path.read_text(encoding='utf-8')
    except OSError as exc:
        raise CalibrationError(f'cannot read calibration {str(path)!r}: '
                               f'{exc.strerror or exc}') from None
    return parse_calibration(text, source=str(path))


def parse_calibration(text: str, source: str = '<string>') -> CameraCalibration:
    """Parse camera_calibration YAML text into a CameraCalibration."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CalibrationError(f'{source}: not valid YAML: {exc}') from None
    if not isinstance(doc, Mapping):
        raise CalibrationError(f'{source}: expected a mapping of calibration keys')
    try:
        return _from_mapping(doc, source)
    except CalibrationError as exc:
        raise CalibrationError(f'{source}: {exc}') from None


def _from_mapping(doc: Mapping[str, Any], source: str) -> CameraCalibration:
    for key in ('image_width', 'image_height', 'camera_matrix', 'distortion_coefficients',
                'rectification_matrix', 'projection_matrix'):
        if key not in doc:
            raise CalibrationError(f'missing key {key!r}')
    roi = doc.get('roi')
    if roi is not None:
        if not isinstance(roi, Mapping):
            raise CalibrationError('roi must be a mapping')
        roi = RegionOfInterest(
            x_offset=_int(roi, 'x_offset'), y_offset=_int(roi, 'y_offset'),
            width=_int(roi, 'width'), height=_int(roi, 'height'),
            do_rectify=bool(roi.get('do_rectify', False)))
    return CameraCalibration(
        width=_int(doc, 'image_width'),
        height=_int(doc, 'image_height'),
        camera_name=str(doc.get('camera_name') or ''),
        # camera_calibration_parsers assumes plumb_bob when the key is missing.
        distortion_model=str(doc.get('distortion_model') or 'plumb_bob'),
        d=_matrix(doc, 'distortion_coefficients', None),
        k=_matrix(doc, 'camera_matrix', (3, 3)),
        r=_matrix(doc, 'rectification_matrix', (3, 3)),
        p=_matrix(doc, 'projection_matrix', (3, 4)),
        binning_x=_int(doc, 'binning_x', 0),
        binning_y=_int(doc, 'binning_y', 0),
        roi=roi or RegionOfInterest(),
        source=source,
    )


def _int(doc: Mapping[str, Any], key: str, default: int | None = None) -> int:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CalibrationError(f'{key} must be an integer, got {value!r}')
    return value


def _matrix(doc: Mapping[str, Any], key: str,
            shape: tuple[int, int] | None) -> tuple[float, ...]:
    node = doc[key]
    if not isinstance(node, Mapping) or not {'rows', 'cols', 'data'} <= node.keys():
        raise CalibrationError(f'{key} must have rows, cols and data')
    rows, cols, data = _int(node, 'rows'), _int(node, 'cols'), node['data']
    if shape is not None and (rows, cols) != shape:
        raise CalibrationError(f'{key} must be {shape[0]}x{shape[1]}, got {rows}x{cols}')
    if not isinstance(data, Sequence) or isinstance(data, str):
        raise CalibrationError(f'{key}.data must be a list of numbers')
    if len(data) != rows * cols:
        raise CalibrationError(f'{key} is {rows}x{cols} but data has {len(data)} values')
    try:
        return tuple(float(v) for v in data)
    except (TypeError, ValueError):
        raise CalibrationError(f'{key}.data must be numbers, got {list(data)!r}') from None


def calibration_for(url: str, width: int, height: int,
                    camera_name: str = '') -> tuple[CameraCalibration, str | None]:
    """Return the calibration to publish for an image size, and a warning if uncalibrated.

    An empty URL gives the uncalibrated message plus a warning to log; a URL that cannot be
    loaded, or whose file is for another image size, raises CalibrationError.
    """
    if not url.strip():
        return (CameraCalibration.uncalibrated(width, height, camera_name),
                ('camera_info_url is empty: publishing an uncalibrated CameraInfo (K = 0); '
                'calibrate with camera_calibration and set camera_info_url'))
    calibration = load_calibration(url, camera_name)
    calibration.check_size(width, height)
    if not calibration.calibrated:
        return calibration, f'{calibration.source}: camera_matrix is zero (uncalibrated)'
    return calibration, None


def fill_camera_info(msg: Any, calibration: CameraCalibration) -> Any:
    """Copy a calibration into a sensor_msgs/CameraInfo message (header left to the caller).

    Duck-typed on the message so the mapping is testable without ROS.
    """
    msg.width = calibration.width
    msg.height = calibration.height
    msg.distortion_model = calibration.distortion_model
    msg.d = list(calibration.d)
    msg.k = list(calibration.k)
    msg.r = list(calibration.r)
    msg.p = list(calibration.p)
    msg.binning_x = calibration.binning_x
    msg.binning_y = calibration.binning_y
    roi = calibration.roi
    msg.roi.x_offset = roi.x_offset
    msg.roi.y_offset = roi.y_offset
    msg.roi.width = roi.width
    msg.roi.height = roi.height
    msg.roi.do_rectify = roi.do_rectify
    return msg


# --- writing (the set_camera_info service) -------------------------------------------------

#: Where camera_info_manager saves a calibration when no URL is set.
DEFAULT_CALIBRATION_URL = 'file://${ROS_HOME}/camera_info/${NAME}.yaml'


def calibration_from_camera_info(msg: Any, camera_name: str = '') -> CameraCalibration:
    """Read a sensor_msgs/CameraInfo (duck-typed) into a CameraCalibration; checks it."""
    roi = msg.roi
    return CameraCalibration(
        width=int(msg.width), height=int(msg.height), camera_name=camera_name,
        distortion_model=str(msg.distortion_model or 'plumb_bob'),
        d=tuple(float(v) for v in msg.d), k=tuple(float(v) for v in msg.k),
        r=tuple(float(v) for v in msg.r), p=tuple(float(v) for v in msg.p),
        binning_x=int(msg.binning_x), binning_y=int(msg.binning_y),
        roi=RegionOfInterest(int(roi.x_offset), int(roi.y_offset), int(roi.width),
                             int(roi.height), bool(roi.do_rectify)))


def calibration_yaml(calibration: CameraCalibration) -> str:
    """Render a calibration as camera_calibration YAML (what camera_info_manager reads)."""
    def matrix(rows: int, cols: int, data: Sequence[float]) -> dict[str, Any]:
        return {'rows': rows, 'cols': cols, 'data': [float(v) for v in data]}

    doc: dict[str, Any] = {
        'image_width': calibration.width,
        'image_height': calibration.height,
        'camera_name': calibration.camera_name,
        'camera_matrix': matrix(3, 3, calibration.k),
        'distortion_model': calibration.distortion_model,
        'distortion_coefficients': matrix(1, len(calibration.d), calibration.d),
        'rectification_matrix': matrix(3, 3, calibration.r),
        'projection_matrix': matrix(3, 4, calibration.p),
    }
    if calibration.binning_x or calibration.binning_y:
        doc.update(binning_x=calibration.binning_x, binning_y=calibration.binning_y)
    roi = calibration.roi
    if roi != RegionOfInterest():
        doc['roi'] = {'x_offset': roi.x_offset, 'y_offset': roi.y_offset, 'width': roi.width,
                      'height': roi.height, 'do_rectify': roi.do_rectify}
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=None)


def save_calibration(calibration: CameraCalibration, url: str, camera_name: str = '') -> Path:
    """Write a calibration to the file a camera_info URL names, all or nothing.

    The YAML goes to a temporary file beside the target, is flushed to disk, then renamed over
    it, so a reader sees the old file or the new one, never half of one. An empty URL means
    camera_info_manager's default (``${ROS_HOME}/camera_info/${NAME}.yaml``). Raises
    CalibrationError with the reason (an unwritable directory, a package:// URL).
    """
    if url.strip().lower().startswith('package://'):
        raise CalibrationError(f'cannot save to {url!r}: package:// files are installed, '
                               'not written; use a file path or file:// URL')
    path = resolve_url(url if url.strip() else DEFAULT_CALIBRATION_URL, camera_name)
    text = calibration_yaml(calibration)
    temporary = path.with_name(f'.{path.name}.{os.getpid()}.tmp')
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, 'w', encoding='utf-8') as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise CalibrationError(f'cannot write calibration {str(path)!r}: '
                               f'{exc.strerror or exc}') from None
    return path
