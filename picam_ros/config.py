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

"""Configuration dataclasses validated from their field metadata, in one place.

A field declared with :func:`config_field` carries its description, bounds, choices and type;
:class:`ConfigBase` checks and coerces every value against them on construction, and
``params.rows_from_config`` turns the same metadata into ROS parameter descriptors and CLI flags,
so defaults and ranges have one source of truth.
"""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses
from dataclasses import dataclass, field
import math
import shlex
from typing import Any, TypeVar

import numpy as np

_C = TypeVar('_C', bound='ConfigBase')


def config_field(default: Any, description: str, *, low: float | None = None,
                 high: float | None = None, choices: tuple | None = None,
                 kind: type | None = None) -> Any:
    """Declare a config field with the metadata validation, parameters and CLI are built from.

    The metadata holds ``description``, ``min``/``max`` (inclusive bounds ``low``/``high``),
    ``choices`` and the value ``type`` (``kind``, inferred from the default unless that is
    ``None``), the same keys as ``KeyingParams`` so ``params.rows_from_config`` reads both.
    """
    value_type = kind if kind is not None else builtins_type(default)
    return field(default=default, metadata={
        'description': description, 'min': low, 'max': high, 'choices': choices,
        'type': value_type})


def builtins_type(value: Any) -> type:
    return tuple if isinstance(value, (tuple, list)) else value.__class__


@dataclass(frozen=True)
class ConfigBase:
    """Validation shared by all source configs; see :func:`config_field`."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = self._coerce(f, getattr(self, f.name))
            object.__setattr__(self, f.name, value)

    def _coerce(self, f: dataclasses.Field, value: Any) -> Any:
        meta = f.metadata
        name = f'{type(self).__name__}.{f.name}'
        kind = meta.get('type')
        if value is None:
            if f.default is None:
                return None
            raise ValueError(f'{name} must not be None')
        if kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                raise ValueError(f'{name} must be a number, got {value!r}')
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f'{name} must be finite, got {value!r}')
        elif kind is int:
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f'{name} must be an integer, got {value!r}')
            value = int(value)
        elif kind is bool:
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f'{name} must be true or false, got {value!r}')
            value = bool(value)
        elif kind is str:
            if not isinstance(value, str):
                raise ValueError(f'{name} must be a string, got {value!r}')
        elif kind is tuple:
            if isinstance(value, str):
                value = tuple(shlex.split(value))
            elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
                value = tuple(value)
            else:
                raise ValueError(f'{name} must be a list of strings, got {value!r}')
        low, high, choices = meta.get('min'), meta.get('max'), meta.get('choices')
        if low is not None and value < low:
            raise ValueError(f'{name} must be >= {low}, got {value!r}')
        if high is not None and value > high:
            raise ValueError(f'{name} must be <= {high}, got {value!r}')
        if choices is not None and value not in choices:
            raise ValueError(f'{name} must be one of {", ".join(map(str, choices))}, '
                             f'got {value!r}')
        return value

    @classmethod
    def from_dict(cls: type[_C], values: Mapping[str, Any]) -> _C:  # noqa: PYI019 - 3.10
        """Build from a mapping (ROS parameters, YAML, CLI); unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f'{cls.__name__}: unknown option(s) {", ".join(unknown)}; '
                             f'known: {", ".join(sorted(known))}')
        return cls(**dict(values))

    def replace(self: _C, **changes: Any) -> _C:  # noqa: PYI019 - typing.Self is 3.11+
        """Return a validated copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def field_table(cls) -> list[tuple[str, Any, Mapping[str, Any]]]:
        """(name, default, metadata) of every field: for parameter descriptors and CLI flags."""
        return [(f.name, f.default, f.metadata) for f in dataclasses.fields(cls)]
