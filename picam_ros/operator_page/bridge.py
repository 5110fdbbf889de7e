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

"""What the operator node translates, kept ROS-free: clouds in, status, parameter specs.

The node hands plain fields of its messages to these functions, so they are tested without
rclpy: :func:`cloud_blobs` reads the centroid node's PointCloud2 payload (see
``picam_ros.core.payloads.CLOUD_FIELDS``; any float32 fields at any offsets, so the
orientation fields of the engine's moments are read when a cloud has them),
:func:`status_from_diagnostics` condenses ``/diagnostics`` into the page's status bar, and
:func:`keying_parameter_specs` says which centroid-node parameters the page's sliders may set,
and :func:`alignment_values` gives the machine's alignment (service answer or diagnostics) the
page's key names, its residuals placed on the board's pixels by :func:`fit_pixel_mapping`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
import json
import math
from typing import Any, NamedTuple

import numpy as np

from picam_ros.centroids.settings import KeyingProfiles
from picam_ros.operator_page.protocol import ParameterSpec

#: sensor_msgs/PointField datatype constants the operator reads (FLOAT32 = 7, FLOAT64 = 8).
_DATATYPES = {7: '<f4', 8: '<f8'}
#: The machine node's per-point field carrying the sequence number of the cloud's frame.
SEQUENCE_FIELD = 'frame_sequence'
#: Readable datatypes of that field (UINT32 = 6, FLOAT64 = 8: exact either way).
_SEQUENCE_DATATYPES = {6: '<u4', 8: '<f8'}
#: Cloud fields the page uses; x, y and area are required.
WANTED_FIELDS = ('x', 'y', 'area', 'orientation', 'major_axis', 'minor_axis')
#: Keying fields that get a slider on the page (live-tunable on the centroid node).
SLIDER_FIELDS = ('luma_min', 'luma_max', 'u_min', 'u_max', 'v_min', 'v_max', 'min_area',
                 'max_area')


#: Keying fields whose "off" value is an ordinary value of their range (0 = no limit).
UNSET_FIELDS = {'max_area': 0}


class Field(NamedTuple):
    name: str
    offset: int
    datatype: int


def cloud_blobs(fields: Iterable[Field], point_step: int, width: int, height: int,
                data: Any, is_bigendian: bool = False,
                wanted: Sequence[str] = WANTED_FIELDS) -> np.ndarray:
    """Read the blobs of a PointCloud2 into a structured array of the ``wanted`` fields.

    ``wanted`` defaults to :data:`WANTED_FIELDS`; those a cloud lacks are left out (x, y and
    area are required).

    Raises ValueError naming what is wrong with a cloud the operator cannot read.
    """
    if is_bigendian:
        raise ValueError('big-endian clouds are not supported')
    by_name = {f.name: f for f in fields}
    missing = [name for name in ('x', 'y', 'area') if name not in by_name]
    if missing:
        raise ValueError(f'cloud lacks fields {missing}; has {sorted(by_name)}')
    count = width * height
    buffer = memoryview(data).cast('B')
    if point_step <= 0 or len(buffer) < count * point_step:
        raise ValueError(f'cloud of {count} points with point_step {point_step} carries '
                         f'{len(buffer)} bytes')
    names, formats, offsets = [], [], []
    for name in wanted:
        field = by_name.get(name)
        if field is None:
            continue
        if field.datatype not in _DATATYPES:
            raise ValueError(f'cloud field {name}: datatype {field.datatype} is not float32 '
                             f'or float64')
        names.append(name)
        formats.append(_DATATYPES[field.datatype])
        offsets.append(field.offset)
    dtype = np.dtype({'names': names, 'formats': formats, 'offsets': offsets,
                      'itemsize': point_step})
    points = np.frombuffer(buffer[:count * point_step], dtype=dtype, count=count)
    return np.array(points[names]) if count else np.zeros(0, [(n, f) for n, f in
                                                              zip(names, formats)])


def cloud_sequence(fields: Iterable[Field], point_step: int, count: int,
                   data: Any) -> int | None:
    """Return the frame sequence number a cloud carries (:data:`SEQUENCE_FIELD`), else None.

    ROS headers have no sequence number; the machine node writes its frame's number in every
    point, so an empty cloud (no blobs) has none either.
    """
    field = next((f for f in fields if f.name == SEQUENCE_FIELD), None)
    if field is None or count < 1 or field.datatype not in _SEQUENCE_DATATYPES:
        return None
    dtype = np.dtype(_SEQUENCE_DATATYPES[field.datatype])
    buffer = memoryview(data).cast('B')
    if field.offset + dtype.itemsize > min(point_step, len(buffer)):
        return None
    return int(np.frombuffer(buffer[field.offset:], dtype=dtype, count=1)[0])


def stamp_ns(sec: int, nanosec: int) -> int:
    return int(sec) * 1_000_000_000 + int(nanosec)


def status_from_diagnostics(statuses: Sequence[tuple[str, str, Mapping[str, str]]],
                            previous: Mapping[str, Any] | None = None,
                            mapping: PixelMapping | None = None) -> dict[str, Any]:
    """Condense ``(name, message, values)`` of DiagnosticStatus entries for the status bar.

    Reads the picam_ros nodes' statuses (names ending ``: camera``, ``: stream``,
    ``: centroids``; the machine node's ``: board`` and ``: composite``); keeps what
    ``previous`` had for nodes not in this array.
    """
    status = dict(previous or {})
    for name, message, values in statuses:
        if name.endswith(': camera'):
            status['fps'] = _number(values.get('fps'))
            status['drops'] = _number(values.get('drops'))
        elif name.endswith(': stream'):
            status['stream_state'] = values.get('state', message)
            status['stream_dropped'] = _number(values.get('frames dropped'))
        elif name.endswith(': board'):         # the machine node's down camera
            status['fps'] = _number(values.get('fps'))
            status['drops'] = _number(values.get('drops'))
            status['blobs'] = _number(values.get('blobs'))
        elif name.endswith(': composite'):     # the machine node's composite and its stream
            status['mode'] = str(values.get('mode', message)).upper()
            status['stream_state'] = values.get('stream', '')
        elif name.endswith(': alignment'):    # the machine node's continuous alignment
            status['alignment'] = {'values': alignment_values(values, mapping),
                                   'error': str(values.get('last error', '') or '')}
        elif name.endswith(': centroids'):
            status['processing_ms'] = _number(values.get('processing time mean (ms)'))
            status['centroid_rate_hz'] = _number(values.get('processed rate (Hz)'))
            status['blobs'] = sum(_number(v) or 0 for k, v in values.items()
                                  if k.endswith(': blobs'))
    return status


#: The page's alignment keys (the placement-verdict names) and the older names they replace:
#: (page key, names it may come under, factor to the page's unit).
_ALIGNMENT_KEYS: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ('dx_mm', ('dx_mm', 'dx (mm)'), 1.0),
    ('dy_mm', ('dy_mm', 'dy (mm)'), 1.0),
    ('theta_deg', ('theta_deg', 'theta (deg)'), 1.0),
    ('rms_um', ('rms_um',), 1.0),
    ('rms_um', ('rms_mm', 'residual rms (mm)'), 1000.0),
    ('max_residual_um', ('max_residual_um',), 1.0),
    ('matched', ('matched',), 1.0),
    ('expected', ('expected',), 1.0),
    ('max_residual_limit_um', ('max_residual_limit_um',), 1.0),
)


class PixelMapping(NamedTuple):
    """Board millimetres to board pixels, per axis: ``px = mm * scale + offset``."""

    scale_x: float
    offset_x: float
    scale_y: float
    offset_y: float

    def to_pixels(self, x_mm: float, y_mm: float) -> tuple[float, float]:
        """Return the board pixel of a board point in mm from the datum."""
        return (x_mm * self.scale_x + self.offset_x, y_mm * self.scale_y + self.offset_y)


def fit_pixel_mapping(blobs: np.ndarray) -> PixelMapping | None:
    """Fit the board's mm -> pixel mapping from a machine cloud's ``x, y, x_mm, y_mm``.

    The machine node computes ``x_mm`` from ``x`` with the calibration it holds (on file or
    only in memory), so this is that calibration, whatever the operator can read of it. None
    when the cloud has no mm fields or too few distinct points to fit a line per axis.
    """
    names = blobs.dtype.names or ()
    if not {'x_mm', 'y_mm'} <= set(names) or blobs.shape[0] < 2:
        return None
    fitted = []
    for pixel, mm in (('x', 'x_mm'), ('y', 'y_mm')):
        p, m = blobs[pixel].astype(float), blobs[mm].astype(float)
        if np.ptp(m) <= 0:
            return None
        scale, offset = np.polyfit(m, p, 1)
        fitted += [float(scale), float(offset)]
    return PixelMapping(*fitted)


def residual_lines(residuals: Any, mapping: PixelMapping) -> list[list[float]]:
    """Return ``[pad_x_px, pad_y_px, ex_um, ey_um]`` per matched pair, for drawing.

    ``residuals`` is the verdict's ``residuals_um`` (a JSON list or its text): ``[pad_x_mm,
    pad_y_mm, ex_um, ey_um]`` with the residual ``pad - corrected lead`` in the board's image
    axes, so the page draws a line from ``pad - k * e`` (the lead as corrected) to the pad.
    Unreadable entries are skipped.
    """
    if isinstance(residuals, str):
        try:
            residuals = json.loads(residuals) if residuals else []
        except ValueError:
            return []
    lines = []
    for entry in residuals if isinstance(residuals, list) else []:
        if not isinstance(entry, list) or len(entry) != 4:
            continue
        numbers = [_number(v) for v in entry]
        if any(n is None or not math.isfinite(n) for n in numbers):
            continue
        x, y = mapping.to_pixels(numbers[0], numbers[1])
        lines.append([round(x, 3), round(y, 3), numbers[2], numbers[3]])
    return lines


def alignment_values(values: Mapping[str, Any],
                     mapping: PixelMapping | None = None) -> dict[str, Any]:
    """Return the machine's alignment in the page's keys (table above); absent keys stay out.

    ``values`` is the align service's JSON answer or the ``: alignment`` diagnostics values
    (strings). ``verdict`` passes through upper-cased (PASS, FAIL, AMBIGUOUS). With the
    board's ``mapping`` the verdict's ``residuals_um`` become ``residuals`` in board pixels
    (:func:`residual_lines`); without it ``residuals_missing`` says why none are drawn.
    """
    page: dict[str, Any] = {}
    verdict = values.get('verdict')
    if isinstance(verdict, str) and verdict:
        page['verdict'] = verdict.upper()
    for key, names, factor in _ALIGNMENT_KEYS:
        if key in page:
            continue
        for name in names:
            number = _number(values.get(name))
            if number is not None and math.isfinite(number):   # NaN: not measured
                page[key] = int(number) if key in ('matched', 'expected') else number * factor
                break
    residuals = values.get('residuals_um')
    if residuals not in (None, ''):
        if mapping is None:
            page['residuals_missing'] = 'no board centroids yet to place the pads'
        else:
            page['residuals'] = residual_lines(residuals, mapping)
    return page


def _number(text: Any) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def keying_parameter_specs(profiles: Sequence[str]) -> list[ParameterSpec]:
    """Slider parameters of each profile, with the ranges the centroid node declares.

    Optional bounds (``u_min`` ...) accept their "not set" value (-1) as the node does; that
    value, and ``max_area``'s 0 (no limit), go to the page as ``unset`` (a checkbox there).
    """
    keying = KeyingProfiles(list(profiles))
    specs = []
    for profile in keying.names:
        for row in keying.rows[profile]:
            if row.field not in SLIDER_FIELDS:
                continue
            low = row.minimum
            unset = row.unset if isinstance(row.unset, int) else UNSET_FIELDS.get(row.field)
            if isinstance(row.unset, int) and low is not None:
                low = min(low, row.unset)
            specs.append(ParameterSpec(row.name, row.kind, low, row.maximum,
                                       row.description, row.default, unset))
    return specs


#: The machine's views: which profiles' centroids each mode's video shows.
MACHINE_VIEWS: dict[str, tuple[str, ...]] = {
    'NORMAL': ('pads', 'leads'), 'FROZEN': ('pads', 'leads'), 'ONLYUP': ('leads',),
    'ONLYDOWN': ('pads',)}


#: The machine's composite: which camera's frames (and so sequence stamps) each mode shows.
MACHINE_STAMPING: dict[str, str] = {
    'NORMAL': 'pads', 'FROZEN': 'pads', 'ONLYUP': 'leads', 'ONLYDOWN': 'pads'}


def composite_shift(profile: str, mode: str | None,
                    offset: tuple[float, float]) -> tuple[float, float]:
    """Where the machine's composite draws a point of ``profile``'s camera, as a shift.

    In NORMAL (and FROZEN) the composite shows up-camera pixel p at p + offset
    (``composite.offset_x/y``); ONLYUP shows the up image unshifted, and the board's pads are
    always in board pixels.
    """
    if profile == 'leads' and (mode or 'NORMAL').upper() in ('NORMAL', 'FROZEN'):
        return (float(offset[0]), float(offset[1]))
    return (0.0, 0.0)
