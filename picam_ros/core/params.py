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

"""Node parameters as ROS-free tables: the generic engine both nodes and the CLI build on.

A config dataclass (``KeyingParams``, the source and stream configs) is the single source of
names, defaults, ranges and descriptions; :func:`rows_from_config` turns its field metadata
(``min``, ``max``, ``description``, ``choices``, ``optional``, ``type``) into :class:`ParamRow`
tables that a node declares as parameters with descriptors, and that validate proposed changes
with a reason. ROS parameters cannot be null, so optional values get a sentinel (-1 for an
unset integer, ``''`` for a string, all zeros for the ROI) that maps back to ``None``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
import dataclasses
from dataclasses import dataclass
import math
from typing import Any, NamedTuple

from picam_ros.core.config import check_value, ConfigError

#: ROS parameter types a row can have (rcl_interfaces/ParameterType names, lower case).
KINDS = ('bool', 'integer', 'double', 'string', 'integer_array', 'string_array')
_PYTHON_TYPES = {'bool': bool, 'integer': int, 'double': float, 'string': str}


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
    launch: str = ''   # the launch argument that overrides it ('' = none)
    flag: str | None = None   # the standalone runner's flag (None: from the name; '' = none)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f'{self.name}: unknown parameter kind {self.kind!r}')
        if not self.field:
            object.__setattr__(self, 'field', self.name.rsplit('.', 1)[-1])
        if self.flag is None:
            object.__setattr__(self, 'flag', flag_for(self.name))

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
        """Type, range and choice check of a proposed ROS value, with a reason when it fails.

        The ROS type must match exactly (ROS parameters are strictly typed); range and choices
        are checked by :func:`picam_ros.core.config.check_value`, the validator every config uses.
        """
        if not _has_kind(value, self.kind):
            return Check(False, f'{self.name}: expected {self.kind.replace("_", " ")}, '
                                f'got {value!r}')
        if self.kind.endswith('_array') or (self.unset is not None and value == self.unset):
            return Check(True)
        try:
            check_value(self.name, value, {'type': _PYTHON_TYPES[self.kind],
                                           'min': self.minimum, 'max': self.maximum,
                                           'choices': self.choices})
        except ConfigError as error:
            return Check(False, str(error))
        return Check(True)


def flag_for(name: str) -> str:
    """Return the command-line flag of a parameter name (``a.b_c``: ``--a-b-c``)."""
    return '--' + name.replace('.', '-').replace('_', '-')


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


def rows_from_config(config: type, *, prefix: str = '',
                     read_only: bool | Iterable[str] | None = None,
                     exclude: Iterable[str] = (), flag_prefix: str | None = None,
                     ) -> tuple[ParamRow, ...]:
    """Parameter rows for every field of a config dataclass, from its field metadata.

    ``read_only`` is a flag for all rows or the names of the read-only fields (None: the fields
    not declared ``live``); ``prefix`` is prepended as a parameter namespace (``'pads'`` gives
    ``pads.luma_min``); ``flag_prefix`` likewise for the CLI flags (None: ``prefix``).
    """
    flag_prefix = prefix if flag_prefix is None else flag_prefix
    skip = set(exclude)
    read_only_names = None if read_only is None or isinstance(read_only, bool) else set(read_only)
    rows = []
    for field in dataclasses.fields(config):
        if field.name in skip or field.name.startswith('_') or not field.init:
            continue
        meta = field.metadata
        kind = _kind_of(field)
        default = field.default
        if default is dataclasses.MISSING and field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        unset = None
        if default is None or meta.get('optional', False):
            unset = _sentinel(field.name, kind, meta)
        if read_only is None:
            fixed = not meta.get('live', False)
        elif read_only_names is None:
            fixed = bool(read_only)
        else:
            fixed = field.name in read_only_names
        row = ParamRow(
            name=f'{prefix}.{field.name}' if prefix else field.name,
            kind=kind,
            default=None,
            description=meta.get('description', ''),
            minimum=meta.get('min'),
            maximum=meta.get('max'),
            choices=tuple(meta.get('choices') or ()),
            read_only=fixed,
            unset=unset,
            field=field.name,
            launch=meta.get('launch', ''),
            flag=meta.get('flag', flag_for(f'{flag_prefix}.{field.name}' if flag_prefix
                                           else field.name)),
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


def check_rows(rows: Iterable[ParamRow], values: Mapping[str, Any]) -> None:
    """Check the ROS value of every row given in ``values``; ValueError names the parameter."""
    for row in rows:
        if row.name in values:
            check = row.check(values[row.name])
            if not check.ok:
                raise ValueError(check.reason)


def config_from_rows(config: type, rows: Sequence[ParamRow], values: Mapping[str, Any]) -> Any:
    """Check every row, then build ``config``: the one way a node turns parameters into a config.

    A bad value or a rule between fields raises ValueError naming the parameters as the user
    typed them (``pads.luma_min``, not the field ``luma_min``), the one line a node ends with.
    """
    check_rows(rows, values)
    try:
        return config_from_ros(config, rows, values)
    except ConfigError as error:
        raise error.renamed({row.field: row.name for row in rows}) from None


def config_with_changes(current: Any, rows: Sequence[ParamRow],
                        changes: Mapping[str, Any]) -> Any:
    """Return ``current`` with the live ``changes`` (ROS values by parameter name), all or none.

    Changes to parameters not in ``rows`` are ignored (another table owns them). Every change
    is checked and the whole new config validated before anything is returned, so a node that
    swaps in the result never runs on half of a refused change; ValueError names the parameter.
    """
    mine = {row.name: row for row in rows if row.name in changes}
    if not mine:
        return current
    check_rows(mine.values(), changes)
    fields = {row.field: row.from_ros(changes[name]) for name, row in mine.items()}
    try:
        return dataclasses.replace(current, **fields)
    except ConfigError as error:
        raise error.renamed({row.field: row.name for row in rows}) from None


# --- documentation ------------------------------------------------------------------------------

def markdown_table(rows: Iterable[ParamRow]) -> str:
    """Render rows as a Markdown table (name, type, default, range, live, description)."""
    lines = [('| parameter | type | default | range | live | CLI flag / launch argument '
              '| description |'),
             '| --- | --- | --- | --- | --- | --- | --- |']
    for row in rows:
        limits = ', '.join(map(str, row.choices)) if row.choices else (
            f'{row.minimum} .. {row.maximum}' if row.minimum is not None else '')
        unset = f' ({_show(row.unset)} = not set)' if row.unset is not None else ''
        description = row.description + unset
        names = ' '.join(f'`{name}`' for name in (row.flag, row.launch and f'{row.launch}:=')
                         if name)
        lines.append(f'| `{row.name}` | {row.kind.replace("_", " ")} | `{_show(row.default)}` '
                     f'| {limits} | {"no" if row.read_only else "yes"} | {names} | '
                     f'{description.replace("|", "/")} |')
    return '\n'.join(lines)
