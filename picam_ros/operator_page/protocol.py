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

"""The operator page's WebSocket protocol: what a page may send, checked before anything acts.

ROS-free and aiohttp-free: :func:`parse_action` turns one text message into a typed action or a
:class:`Refusal` whose ``reason`` is shown to the operator. Nothing a page sends reaches a
backend (and so a node parameter) without passing through here.

Messages from the page are JSON objects ``{"action": <name>, "id": <int>, ...}``:

- ``auth``: ``token`` (string) - unlocks state changes on this connection;
- ``select_target``: ``x``, ``y`` (frame pixels), optional ``profile``, ``seq``;
- ``set_parameter``: ``name`` (one of the advertised parameters), ``value``;
- ``set_mode``: ``mode`` (one of :data:`MODES`);
- ``calibration_click``: ``step`` (one of :data:`CALIBRATION_STEPS`), ``x``, ``y``;
- ``find_nozzle``: no fields - the machine finds the nozzle centre in the up camera itself;
- ``calibration_scale``: ``camera`` (one of :data:`SCALE_MODES`), ``x1``, ``y1``, ``x2``, ``y2``
  (two points of that camera's view, frame pixels) and ``distance_mm`` (their distance on the
  object) - the camera's mm per pixel;
- ``rotate``: ``degrees`` (relative, at most :data:`MAX_ROTATE_DEG` either way);
- ``align``: no fields - the machine aligns the part on the nozzle from fresh frames and
  answers with its verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import json
import math
from typing import Any

#: Largest text message a page may send, in bytes (a real action is < 300 bytes).
MAX_MESSAGE_BYTES = 4096
#: The machine's display modes (issue 11); the page shows one button per mode.
MODES: tuple[str, ...] = ('NORMAL', 'ONLYUP', 'ONLYDOWN', 'FROZEN')
#: Calibration clicks: the nozzle centre in ONLYUP, then the reference mark in ONLYDOWN.
CALIBRATION_STEPS: tuple[str, ...] = ('nozzle', 'reference')
#: The mode each calibration step is clicked in.
CALIBRATION_MODES: dict[str, str] = {'nozzle': 'ONLYUP', 'reference': 'ONLYDOWN'}
#: Scale calibration: camera -> the mode its two points are clicked in (that camera alone).
SCALE_MODES: dict[str, str] = {'down': 'ONLYDOWN', 'up': 'ONLYUP'}
#: Longest distance between two scale points, mm (the machine node's own limit).
MAX_SCALE_MM = 1e4
MAX_ROTATE_DEG = 45.0
#: Frame coordinates are accepted within this many pixels (a frame is at most 8192 wide).
MAX_COORDINATE = 8192.0
STATE_CHANGING: frozenset[str] = frozenset(
    {'select_target', 'set_parameter', 'set_mode', 'calibration_click', 'find_nozzle',
     'calibration_scale', 'rotate', 'align'})
ACTIONS: frozenset[str] = STATE_CHANGING | {'auth'}


@dataclass(frozen=True)
class Refusal:
    """Why a message was not acted on (sent back to the page as ``{"type": "refused"}``)."""

    reason: str
    id: int | None = None


@dataclass(frozen=True)
class ParameterSpec:
    """A node parameter the page may set: its kind and inclusive range, as the node declares."""

    name: str
    kind: str            # 'integer' | 'double' | 'bool'
    minimum: float | None = None
    maximum: float | None = None
    description: str = ''
    value: Any = None    # the node's value when the page connects (None: unknown)
    unset: Any = None    # the value meaning "not set" (a gate off, no limit); None: none

    def check(self, value: Any) -> str:
        """Return '' when ``value`` is acceptable, else the reason in the operator's words."""
        if self.kind == 'bool':
            return '' if isinstance(value, bool) else f'{self.name}: expected true or false'
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f'{self.name}: expected a number, got {json.dumps(value)[:40]}'
        if self.kind == 'integer' and (not float(value).is_integer()):
            return f'{self.name}: expected an integer, got {value}'
        if not math.isfinite(value):
            return f'{self.name}: must be finite'
        if self.minimum is not None and value < self.minimum:
            return f'{self.name}: {value:g} is below the minimum {self.minimum:g}'
        if self.maximum is not None and value > self.maximum:
            return f'{self.name}: {value:g} is above the maximum {self.maximum:g}'
        return ''

    def coerce(self, value: Any) -> Any:
        """Convert a checked value to the ROS type of the parameter (1.0 -> 1 for an integer)."""
        if self.kind == 'integer':
            return int(value)
        if self.kind == 'double':
            return float(value)
        return value

    def as_json(self) -> dict[str, Any]:
        return {'name': self.name, 'kind': self.kind, 'min': self.minimum,
                'max': self.maximum, 'description': self.description,
                'value': self.value, 'unset': self.unset}


@dataclass(frozen=True)
class _Action:
    """What every action carries besides its own fields: the page's ``id``.

    The answer echoes it so the page can match the answer to its request. It is keyword-only
    so that each action lists its own fields first and positionally.
    """

    id: int | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class Auth(_Action):
    token: str


@dataclass(frozen=True)
class SelectTarget(_Action):
    x: float
    y: float
    profile: str = ''
    seq: int | None = None


@dataclass(frozen=True)
class SetParameter(_Action):
    name: str
    value: Any


@dataclass(frozen=True)
class SetMode(_Action):
    mode: str


@dataclass(frozen=True)
class CalibrationClick(_Action):
    step: str
    x: float
    y: float


@dataclass(frozen=True)
class FindNozzle(_Action):
    """No fields: the machine finds the nozzle centre in the up camera itself."""


@dataclass(frozen=True)
class CalibrationScale(_Action):
    camera: str
    points: tuple[float, float, float, float]   # x1, y1, x2, y2
    distance_mm: float


@dataclass(frozen=True)
class Align(_Action):
    """No fields: the machine aligns the part on the nozzle from fresh frames."""


@dataclass(frozen=True)
class Rotate(_Action):
    degrees: float


Action = (Auth | SelectTarget | SetParameter | SetMode | CalibrationClick | FindNozzle
          | CalibrationScale | Rotate | Align)

_FIELDS: dict[str, frozenset[str]] = {
    'auth': frozenset({'token'}),
    'select_target': frozenset({'x', 'y', 'profile', 'seq'}),
    'set_parameter': frozenset({'name', 'value'}),
    'set_mode': frozenset({'mode'}),
    'calibration_click': frozenset({'step', 'x', 'y'}),
    'find_nozzle': frozenset(),
    'calibration_scale': frozenset({'camera', 'x1', 'y1', 'x2', 'y2', 'distance_mm'}),
    'rotate': frozenset({'degrees'}),
    'align': frozenset(),
}


class _Bad(Exception):
    pass


def _number(message: dict[str, Any], key: str, low: float, high: float) -> float:
    value = message.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _Bad(f'{key}: expected a finite number')
    if not low <= value <= high:
        raise _Bad(f'{key}: {value:g} is outside [{low:g}, {high:g}]')
    return float(value)


def _choice(message: dict[str, Any], key: str, choices: tuple[str, ...]) -> str:
    value = message.get(key)
    if value not in choices:
        raise _Bad(f'{key}: expected one of {", ".join(choices)}')
    return value


def parse_action(text: str | bytes, parameters: dict[str, ParameterSpec],
                 profiles: tuple[str, ...] = ()) -> Action | Refusal:
    """Parse and validate one message from a page; never raises on bad input."""
    size = len(text.encode() if isinstance(text, str) else text)
    if size > MAX_MESSAGE_BYTES:
        return Refusal(f'message of {size} bytes is larger than the {MAX_MESSAGE_BYTES}-byte '
                       f'limit')
    try:
        message = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        return Refusal(f'not JSON: {error}')
    if not isinstance(message, dict):
        return Refusal('expected a JSON object with an "action"')
    ident = message.get('id')
    if ident is not None and (isinstance(ident, bool) or not isinstance(ident, int)
                              or not 0 <= ident < 2**53):
        return Refusal('id: expected a non-negative integer')
    action = message.get('action')
    if action not in ACTIONS:
        return Refusal(f'unknown action {json.dumps(action)[:40]}; expected one of '
                       f'{", ".join(sorted(ACTIONS))}', ident)
    extra = set(message) - _FIELDS[action] - {'action', 'id'}
    if extra:
        return Refusal(f'{action}: unexpected fields {", ".join(sorted(extra))[:80]}', ident)
    try:
        return _build(action, message, ident, parameters, profiles)
    except _Bad as error:
        return Refusal(f'{action}: {error}', ident)


def _build(action: str, message: dict[str, Any], ident: int | None,
           parameters: dict[str, ParameterSpec], profiles: tuple[str, ...]) -> Action:
    if action == 'auth':
        token = message.get('token')
        if not isinstance(token, str) or not token:
            raise _Bad('token: expected a string')
        return Auth(token, id=ident)
    if action == 'select_target':
        profile = message.get('profile', '')
        if profile and profile not in profiles:
            raise _Bad(f'profile: {json.dumps(profile)[:40]} is not one of '
                       f'{", ".join(profiles) or "(none)"}')
        seq = message.get('seq')
        if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int)
                                or not 0 <= seq < 2**63):
            raise _Bad('seq: expected a non-negative integer')
        return SelectTarget(_number(message, 'x', -0.5, MAX_COORDINATE),
                            _number(message, 'y', -0.5, MAX_COORDINATE), profile, seq, id=ident)
    if action == 'set_parameter':
        name = message.get('name')
        spec = parameters.get(name) if isinstance(name, str) else None
        if spec is None:
            raise _Bad(f'name: {json.dumps(name)[:60]} is not a parameter the page may set')
        reason = spec.check(message.get('value'))
        if reason:
            raise _Bad(reason)
        return SetParameter(name, spec.coerce(message['value']), id=ident)
    if action == 'set_mode':
        return SetMode(_choice(message, 'mode', MODES), id=ident)
    if action == 'calibration_click':
        return CalibrationClick(_choice(message, 'step', CALIBRATION_STEPS),
                                _number(message, 'x', -0.5, MAX_COORDINATE),
                                _number(message, 'y', -0.5, MAX_COORDINATE), id=ident)
    if action == 'find_nozzle':
        return FindNozzle(id=ident)
    if action == 'align':
        return Align(id=ident)
    if action == 'calibration_scale':
        camera = _choice(message, 'camera', tuple(SCALE_MODES))
        x1, y1, x2, y2 = (_number(message, key, -0.5, MAX_COORDINATE)
                          for key in ('x1', 'y1', 'x2', 'y2'))
        if math.hypot(x2 - x1, y2 - y1) < 1.0:
            raise _Bad('the two points are less than a pixel apart: click two points a known '
                       'distance apart')
        distance = _number(message, 'distance_mm', 0.0, MAX_SCALE_MM)
        if distance <= 0:
            raise _Bad('distance_mm: must be above 0')
        return CalibrationScale(camera, (x1, y1, x2, y2), distance, id=ident)
    return Rotate(_number(message, 'degrees', -MAX_ROTATE_DEG, MAX_ROTATE_DEG), id=ident)
