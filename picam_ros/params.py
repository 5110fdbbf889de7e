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

"""Node parameters as ROS-free tables, and the centroid node's policies that they drive.

A config dataclass (``KeyingParams``, the source and stream configs) is the single source of
names, defaults, ranges and descriptions; :func:`rows_from_config` turns its field metadata
(``min``, ``max``, ``description``, ``choices``, ``optional``, ``type``) into :class:`ParamRow`
tables that a node declares as parameters with descriptors, and that validate proposed changes
with a reason. ROS parameters cannot be null, so optional values get a sentinel (-1 for an
unset integer, ``''`` for a string, all zeros for the ROI) that maps back to ``None``.

The centroid node's logic that is not an rclpy call lives here too, so it is tested without
ROS: named keying profiles (:class:`KeyingProfiles`) and frame decimation (:class:`Decimator`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
import dataclasses
from dataclasses import dataclass
import math
import re
from typing import Any, NamedTuple

from picam_ros.camera_runtime import FrameThrottle
from picam_ros.centroids import KeyingParams

#: ROS parameter types a row can have (rcl_interfaces/ParameterType names, lower case).
KINDS = ('bool', 'integer', 'double', 'string', 'integer_array', 'string_array')


class Check(NamedTuple):
    """Outcome of validating a proposed parameter value: ``ok`` and, if not, the ``reason``."""

    ok: bool
    reason: str = ''


@dataclass(frozen=True)
class ParamRow:
    """One ROS parameter: what a node declares and how its value maps to the config field.

    ``default`` is already a ROS value (no ``None``); ``unset`` is the ROS value that stands for
    the field's ``None`` (or ``None`` when the field is not optional).
    """

    name: str
    kind: str
    default: Any
    description: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple = ()
    read_only: bool = False
    unset: Any = None
    field: str = ''

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f'{self.name}: unknown parameter kind {self.kind!r}')
        if not self.field:
            object.__setattr__(self, 'field', self.name.rsplit('.', 1)[-1])

    @property
    def constraints(self) -> str:
        """Human-readable limits, for ``ParameterDescriptor.additional_constraints``."""
        parts = []
        if self.choices:
            parts.append('one of: ' + ', '.join(map(str, self.choices)))
        if self.unset is not None:
            parts.append(f'{_show(self.unset)} = not set')
        if self.read_only:
            parts.append('read-only: takes effect when the node is restarted')
        return '; '.join(parts)

    def descriptor_fields(self) -> dict[str, Any]:
        """Keyword arguments for ``rcl_interfaces.msg.ParameterDescriptor``.

        Ranges come as plain ``(from_value, to_value, step)`` tuples under ``integer_range`` /
        ``floating_point_range``; the node wraps them in ``IntegerRange`` /
        ``FloatingPointRange``. Sentinels lie outside the field's range, so a range is only
        declared for non-optional scalars and the sentinel stays settable.
        """
        fields: dict[str, Any] = {
            'description': self.description,
            'read_only': self.read_only,
            'additional_constraints': self.constraints,
        }
        if self.minimum is None or self.maximum is None:
            return fields
        if self.kind == 'integer':
            low, high = int(self.minimum), int(self.maximum)
            if isinstance(self.unset, int):
                if self.unset > high or self.unset < low - 1:
                    return fields  # a sentinel far outside the range: the callback checks
                low = min(low, self.unset)
            fields['integer_range'] = (low, high, _choice_step(self.choices, low, high))
        elif self.kind == 'double' and self.unset is None:
            fields['floating_point_range'] = (float(self.minimum), float(self.maximum), 0.0)
        return fields

    def to_ros(self, value: Any) -> Any:
        """Convert a config value to the ROS parameter value."""
        if value is None:
            if self.unset is None:
                raise ValueError(f'{self.name} cannot be None')
            return self.unset
        if self.kind.endswith('_array'):
            return list(value)
        if self.kind == 'double':
            return float(value)
        return value

    def from_ros(self, value: Any) -> Any:
        """Convert a ROS parameter value to the config value (sentinel -> ``None``)."""
        if self.kind.endswith('_array'):
            items = list(value)
            if self.unset is not None and (not items or items == list(self.unset)):
                return None
            return tuple(items)
        if self.unset is not None and value == self.unset:
            return None
        return value

    def check(self, value: Any) -> Check:
        """Type, range and choice check of a proposed ROS value, with a reason when it fails."""
        if not _has_kind(value, self.kind):
            return Check(False, f'{self.name}: expected {self.kind.replace("_", " ")}, '
                                f'got {value!r}')
        if self.kind.endswith('_array') or (self.unset is not None and value == self.unset):
            return Check(True)
        if self.kind == 'double' and not math.isfinite(value):
            return Check(False, f'{self.name}: must be finite, got {value!r}')
        if self.minimum is not None and value < self.minimum:
            return Check(False, f'{self.name}: {value!r} is below the minimum {self.minimum}')
        if self.maximum is not None and value > self.maximum:
            return Check(False, f'{self.name}: {value!r} is above the maximum {self.maximum}')
        if self.choices and value not in self.choices:
            return Check(False, f'{self.name}: {value!r} is not one of '
                                f'{", ".join(map(str, self.choices))}')
        return Check(True)


def _choice_step(choices: tuple, low: int, high: int) -> int:
    """Return the IntegerRange step admitting exactly ``choices`` (4 for {4, 8}), else 1."""
    values = sorted(choices)
    if len(values) < 2 or values[0] != low or values[-1] != high:
        return 1
    step = values[1] - values[0]
    return step if values == list(range(low, high + 1, step)) else 1


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _has_kind(value: Any, kind: str) -> bool:
    if kind == 'bool':
        return isinstance(value, bool)
    if kind == 'integer':
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == 'double':
        return isinstance(value, float)
    if kind == 'string':
        return isinstance(value, str)
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        return False
    element = 'integer' if kind == 'integer_array' else 'string'
    return all(_has_kind(item, element) for item in value)


def _kind_of(field: dataclasses.Field) -> str:
    declared = field.metadata.get('type')
    annotation = field.type if isinstance(field.type, str) else getattr(
        field.type, '__name__', str(field.type))
    if declared is bool or annotation.startswith('bool'):
        return 'bool'
    if declared is int or annotation.startswith('int'):
        return 'integer'
    if declared is float or annotation.startswith('float'):
        return 'double'
    if declared is str or annotation.startswith('str'):
        return 'string'
    if annotation.startswith('tuple[int'):
        return 'integer_array'
    if declared is tuple or annotation.startswith('tuple'):
        return 'string_array'
    raise ValueError(f'{field.name}: no ROS parameter type for {annotation!r}')


def rows_from_config(config: type, *, prefix: str = '', read_only: bool | Iterable[str] = False,
                     exclude: Iterable[str] = ()) -> tuple[ParamRow, ...]:
    """Parameter rows for every field of a config dataclass, from its field metadata.

    ``read_only`` is a flag for all rows or the names of the read-only fields; ``prefix`` is
    prepended as a parameter namespace (``'pads'`` gives ``pads.luma_min``).
    """
    skip = set(exclude)
    read_only_names = None if isinstance(read_only, bool) else set(read_only)
    rows = []
    for field in dataclasses.fields(config):
        if field.name in skip or field.name.startswith('_'):
            continue
        meta = field.metadata
        kind = _kind_of(field)
        default = field.default
        if default is dataclasses.MISSING and field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        unset = None
        if default is None or meta.get('optional', False):
            unset = _sentinel(field.name, kind, meta)
        row = ParamRow(
            name=f'{prefix}.{field.name}' if prefix else field.name,
            kind=kind,
            default=None,
            description=meta.get('description', ''),
            minimum=meta.get('min'),
            maximum=meta.get('max'),
            choices=tuple(meta.get('choices') or ()),
            read_only=read_only if read_only_names is None else field.name in read_only_names,
            unset=unset,
            field=field.name,
        )
        rows.append(dataclasses.replace(row, default=row.to_ros(default)))
    return tuple(rows)


def _sentinel(name: str, kind: str, meta: Mapping[str, Any]) -> Any:
    if 'ros_unset' in meta:
        return meta['ros_unset']
    if kind == 'integer':
        low = meta.get('min')
        if low is not None and low <= -1:
            raise ValueError(f'{name}: -1 is a valid value, so it cannot mean "not set"; '
                             f'give the field a ros_unset sentinel')
        return -1
    if kind == 'double':
        return math.nan if meta.get('min') is None else float(meta['min']) - 1.0
    if kind == 'string':
        return ''
    if kind == 'integer_array':
        return [0, 0, 0, 0] if name == 'roi' else []
    if kind == 'string_array':
        return []
    raise ValueError(f'{name}: a {kind} parameter cannot be optional')


def config_from_ros(config: type, rows: Sequence[ParamRow], values: Mapping[str, Any]) -> Any:
    """Build ``config`` from ROS values keyed by row name (missing rows keep the default)."""
    fields = {row.field: row.from_ros(values[row.name]) for row in rows if row.name in values}
    return config(**fields)


# --- keying profiles ----------------------------------------------------------------------------

_PROFILE_NAME = re.compile(r'[A-Za-z][A-Za-z0-9_]*\Z')
#: Fields of KeyingParams that cannot be tuned live (none: every key setting applies on the next
#: processed frame).
KEYING_READ_ONLY: tuple[str, ...] = ()


class Proposal(NamedTuple):
    """Result of validating parameter changes: ``ok``, ``reason`` and the configs they give."""

    ok: bool
    reason: str
    profiles: dict[str, KeyingParams]


class KeyingProfiles:
    """Named keying profiles exposed as ``<profile>.<field>`` parameters.

    The first profile is the primary one: it publishes on ``centroids`` / ``debug_image``;
    every other profile ``p`` on ``p/centroids`` / ``p/debug_image``. All names are relative, so
    a namespace per camera (``/board/centroids``) and remapping work as usual.
    """

    def __init__(self, names: Sequence[str]) -> None:
        names = tuple(names)
        if not names:
            raise ValueError('profiles: at least one keying profile is needed')
        for name in names:
            if not isinstance(name, str) or not _PROFILE_NAME.match(name):
                raise ValueError(f'profiles: {name!r} is not a valid profile name (a letter, '
                                 f'then letters, digits or underscores)')
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f'profiles: duplicate names {duplicates}')
        self.names = names
        self.rows: dict[str, tuple[ParamRow, ...]] = {
            name: rows_from_config(KeyingParams, prefix=name, read_only=KEYING_READ_ONLY)
            for name in names}
        self._by_name = {row.name: (profile, row)
                         for profile, rows in self.rows.items() for row in rows}

    def all_rows(self) -> tuple[ParamRow, ...]:
        return tuple(row for rows in self.rows.values() for row in rows)

    def topics(self, profile: str) -> tuple[str, str]:
        """(centroids topic, debug image topic) of ``profile``, relative names."""
        if profile == self.names[0]:
            return 'centroids', 'debug_image'
        return f'{profile}/centroids', f'{profile}/debug_image'

    def owns(self, parameter: str) -> bool:
        return parameter in self._by_name

    def build(self, values: Mapping[str, Any]) -> dict[str, KeyingParams]:
        """Profiles from ROS values keyed by full parameter name; ValueError names the problem."""
        result = {}
        for profile, rows in self.rows.items():
            try:
                result[profile] = config_from_ros(KeyingParams, rows, values)
            except ValueError as error:
                raise ValueError(f'keying profile {profile!r}: {error}') from None
        return result

    def propose(self, current: Mapping[str, KeyingParams],
                changes: Mapping[str, Any]) -> Proposal:
        """Validate changed parameters against ``current``; parameters of others pass through.

        All changes in one request are applied together, so ``luma_min`` and ``luma_max`` can be
        moved past each other in one ``set_parameters`` call.
        """
        updates: dict[str, dict[str, Any]] = {}
        for name, value in changes.items():
            if name not in self._by_name:
                continue
            profile, row = self._by_name[name]
            check = row.check(value)
            if not check.ok:
                return Proposal(False, check.reason, dict(current))
            updates.setdefault(profile, {})[row.field] = row.from_ros(value)
        profiles = dict(current)
        for profile, fields in updates.items():
            try:
                profiles[profile] = current[profile].replace(**fields)
            except ValueError as error:
                return Proposal(False, f'keying profile {profile!r}: {error}', dict(current))
        return Proposal(True, '', profiles)


# --- decimation ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class DecimationConfig:
    """Which incoming frames the centroid node processes; the rest are dropped unopened."""

    process_every_n: int = dataclasses.field(default=1, metadata={
        'min': 1, 'max': 1000,
        'description': 'process one frame in every n received (1 = every frame)'})
    max_rate_hz: float = dataclasses.field(default=0.0, metadata={
        'min': 0.0, 'max': 1000.0,
        'description': 'process at most this many frames per second, picked by arrival time '
                       '(0 = no limit)'})

    def __post_init__(self) -> None:
        if isinstance(self.max_rate_hz, int) and not isinstance(self.max_rate_hz, bool):
            object.__setattr__(self, 'max_rate_hz', float(self.max_rate_hz))
        for row in rows_from_config(type(self)):
            check = row.check(getattr(self, row.field))
            if not check.ok:
                raise ValueError(check.reason)


#: The decimation parameters of the centroid node (live-tunable).
DECIMATION_ROWS: tuple[ParamRow, ...] = rows_from_config(DecimationConfig)


class Decimator:
    """Counts incoming frames and says which to process.

    ``process_every_n`` keeps every n-th frame; ``max_rate_hz`` then keeps frames on a fixed
    schedule of slots (as the camera's throttled topic does), so arrival jitter does not lower
    the rate. Replacing the config restarts the schedule and the count.
    """

    def __init__(self, config: DecimationConfig | None = None) -> None:
        self.received = 0
        self.processed = 0
        self.configure(config or DecimationConfig())

    @property
    def config(self) -> DecimationConfig:
        return self._config

    @property
    def skipped(self) -> int:
        return self.received - self.processed

    def configure(self, config: DecimationConfig) -> None:
        self._config = config
        self._phase = 0
        self._throttle = FrameThrottle(config.max_rate_hz) if config.max_rate_hz > 0 else None

    def accept(self, now_ns: int) -> bool:
        """Whether the frame arriving at monotonic time ``now_ns`` should be processed."""
        self.received += 1
        phase, self._phase = self._phase, (self._phase + 1) % self._config.process_every_n
        if phase:
            return False
        if self._throttle is not None and not self._throttle.accept(now_ns):
            return False
        self.processed += 1
        return True


# --- launch arguments ---------------------------------------------------------------------------

#: Launch arguments that override camera parameters: argument -> (parameter, kind). An empty
#: argument leaves the parameter to the parameter files (config/picam.yaml and params_file).
CAMERA_LAUNCH_ARGUMENTS: dict[str, tuple[str, str]] = {
    'source': ('source', 'string'),
    'width': ('width', 'integer'),
    'height': ('height', 'integer'),
    'fps': ('fps', 'double'),
    'camera': ('camera', 'integer'),
    'stream': ('stream.enabled', 'bool'),
    'centroid_rate_hz': ('throttle_rate_hz', 'double'),
}
_TRUE, _FALSE = ('true', '1', 'yes', 'on'), ('false', '0', 'no', 'off')


def launch_overrides(arguments: Mapping[str, str],
                     table: Mapping[str, tuple[str, str]] = CAMERA_LAUNCH_ARGUMENTS,
                     ) -> dict[str, Any]:
    """Typed parameter overrides from launch argument strings; empty arguments are skipped.

    ValueError names the argument and what it should be, before any process starts.
    """
    overrides: dict[str, Any] = {}
    for argument, (parameter, kind) in table.items():
        text = arguments.get(argument, '').strip()
        if not text:
            continue
        try:
            if kind == 'integer':
                value: Any = int(text)
            elif kind == 'double':
                value = float(text)
                if not math.isfinite(value):
                    raise ValueError
            elif kind == 'bool':
                if text.lower() not in _TRUE + _FALSE:
                    raise ValueError
                value = text.lower() in _TRUE
            else:
                value = text
        except ValueError:
            raise ValueError(f'launch argument {argument}:={text!r} is not a valid '
                             f'{kind} (it sets the {parameter} parameter)') from None
        overrides[parameter] = value
    return overrides


# --- centroid node parameters -------------------------------------------------------------------

#: The centroid node's own parameters besides the keying profiles and the decimation rows.
PROFILES_ROW = ParamRow(
    'profiles', 'string_array', ['pads'],
    'names of the keying profiles; each has <profile>.* parameters and its own output topic '
    '(the first on centroids, the others on <profile>/centroids)', read_only=True)
DIAGNOSTICS_ROW = ParamRow(
    'diagnostics_period', 'double', 1.0, 'seconds between /diagnostics reports',
    minimum=0.1, maximum=60.0, read_only=True)


def centroid_parameter_rows(profiles: Sequence[str]) -> tuple[ParamRow, ...]:
    """Every parameter the centroid node declares for these keying profiles."""
    return ((PROFILES_ROW, DIAGNOSTICS_ROW) + DECIMATION_ROWS
            + KeyingProfiles(profiles).all_rows())


# --- documentation ------------------------------------------------------------------------------

def markdown_table(rows: Iterable[ParamRow]) -> str:
    """Render rows as a Markdown table (name, type, default, range, live, description)."""
    lines = ['| parameter | type | default | range | live | description |',
             '| --- | --- | --- | --- | --- | --- |']
    for row in rows:
        limits = ', '.join(map(str, row.choices)) if row.choices else (
            f'{row.minimum} .. {row.maximum}' if row.minimum is not None else '')
        unset = f' ({_show(row.unset)} = not set)' if row.unset is not None else ''
        description = row.description + unset
        lines.append(f'| `{row.name}` | {row.kind.replace("_", " ")} | `{_show(row.default)}` '
                     f'| {limits} | {"no" if row.read_only else "yes"} | '
                     f'{description.replace("|", "/")} |')
    return '\n'.join(lines)


def main() -> None:
    """Print the parameter tables of both nodes (for README): ``python -m picam_ros.params``."""
    from picam_ros.camera_runtime import camera_parameter_rows

    print('### camera_node\n')
    print(markdown_table(camera_parameter_rows()))
    print('\n### centroid_node (profile `pads`)\n')
    print(markdown_table(centroid_parameter_rows(['pads'])))


if __name__ == '__main__':
    main()
