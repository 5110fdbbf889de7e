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

A field declared with :func:`config_field` carries its whole schema: description, bounds,
choices, value type and whether it is live-tunable. :func:`check_value` is the one validator:
:class:`ConfigBase` runs it on every field at construction, and ``params.ParamRow.check`` runs it
on proposed ROS values, so a range is checked the same way wherever a value comes from. Errors
are :class:`ConfigError`: the name of the setting and the problem, so an adapter can name the
setting the way its user typed it (``pads.luma_min`` for ROS, ``--luma-min`` for the CLI).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import dataclasses
from dataclasses import dataclass, field
import math
import re
import shlex
from typing import Any, TypeVar

import numpy as np

_C = TypeVar('_C', bound='ConfigBase')


class ConfigError(ValueError):
    """A setting with a bad value: ``name`` (as the raiser knows it) and the ``problem``.

    ``mentions``: other settings the problem names (a rule between two fields); they are
    renamed with ``name``, so that the user reads every setting as they typed it.
    """

    def __init__(self, name: str, problem: str, mentions: tuple[str, ...] = ()) -> None:
        super().__init__(f'{name}: {problem}')
        self.name = name
        self.problem = problem
        self.mentions = mentions

    def renamed(self, names: Mapping[str, str] | Callable[[str], str]) -> ConfigError:
        """Return the same problem under the user's names for the settings (unknown: unchanged)."""
        def rename(name: str) -> str:
            return names(name) if callable(names) else names.get(name, name)

        problem = self.problem
        for other in self.mentions:
            problem = re.sub(rf'(?<![\w.-]){re.escape(other)}(?![\w-])', rename(other), problem)
        return ConfigError(rename(self.name), problem, tuple(map(rename, self.mentions)))


def config_field(default: Any, description: str, *, low: float | None = None,
                 high: float | None = None, choices: tuple | None = None,
                 kind: type | None = None, live: bool = False,
                 parse: Callable[[Any], Any] | None = None, **extra: Any) -> Any:
    """Declare a config field with the metadata validation, parameters and CLI are built from.

    The metadata holds ``description``, ``min``/``max`` (inclusive bounds ``low``/``high``),
    ``choices``, the value ``type`` (``kind``, inferred from the default unless that is
    ``None``), ``live`` (a node applies a change while running) and ``parse`` (a validator of
    its own for structured values, such as a rectangle). ``extra`` keys (``optional``,
    ``ros_unset``) are kept for ``params.rows_from_config``.
    """
    value_type = kind if kind is not None else builtins_type(default)
    return field(default=default, metadata={
        'description': description, 'min': low, 'max': high, 'choices': choices,
        'type': value_type, 'live': live, 'parse': parse, **extra})


def builtins_type(value: Any) -> type:
    return tuple if isinstance(value, (tuple, list)) else value.__class__


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else f'{value:g}' if isinstance(
        value, float) else str(value)


def check_value(name: str, value: Any, meta: Mapping[str, Any], *,
                optional: bool = False) -> Any:
    """Validate and normalise ``value`` against a field's metadata: the one validator.

    ``optional``: ``None`` is a valid value (the setting is off). Raises :class:`ConfigError`
    naming ``name``.
    """
    kind = meta.get('type')
    if value is None:
        if optional:
            return None
        raise ConfigError(name, 'must be set')
    parse = meta.get('parse')
    if parse is not None:
        try:
            return parse(value)
        except ConfigError as error:
            raise ConfigError(f'{name}{error.name}' if error.name.startswith('.') else name,
                              error.problem) from None
    if kind is float:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
            raise ConfigError(name, f'must be a number, got {value!r}')
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(name, f'must be finite, got {value!r}')
    elif kind is int:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise ConfigError(name, f'must be an integer, got {value!r}')
        value = int(value)
    elif kind is bool:
        if not isinstance(value, (bool, np.bool_)):
            raise ConfigError(name, f'must be true or false, got {value!r}')
        value = bool(value)
    elif kind is str:
        if not isinstance(value, str):
            raise ConfigError(name, f'must be a string, got {value!r}')
    elif kind is tuple:
        if isinstance(value, str):
            try:
                value = tuple(shlex.split(value))
            except ValueError as error:   # shlex: 'No closing quotation', 'No escaped character'
                text = str(error)
                raise ConfigError(name, f'{text[:1].lower()}{text[1:]} in {value!r} (shell '
                                        f'syntax)') from None
        elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            value = tuple(value)
        else:
            raise ConfigError(name, f'must be a list of strings, got {value!r}')
    low, high, choices = meta.get('min'), meta.get('max'), meta.get('choices')
    if choices and value not in choices:
        raise ConfigError(name, f'{_show(value)} is not one of '
                                f'{", ".join(map(str, choices))}')
    if low is not None and value < low:
        raise ConfigError(name, f'{_show(value)} is below the minimum {_show(low)}')
    if high is not None and value > high:
        raise ConfigError(name, f'{_show(value)} is above the maximum {_show(high)}')
    return value


@dataclass(frozen=True)
class ConfigBase:
    """Validation shared by all configs; see :func:`config_field` and :func:`check_value`."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if f.name.startswith('_'):
                continue
            value = check_value(f.name, getattr(self, f.name), f.metadata,
                                optional=f.default is None)
            object.__setattr__(self, f.name, value)

    @classmethod
    def from_dict(cls: type[_C], values: Mapping[str, Any]) -> _C:  # noqa: PYI019 - 3.10
        """Build from a mapping (ROS parameters, YAML, CLI); unknown keys are an error."""
        cls._refuse_unknown(values)
        return cls(**dict(values))

    @classmethod
    def _refuse_unknown(cls, values: Mapping[str, Any]) -> None:
        known = {f.name for f in dataclasses.fields(cls) if not f.name.startswith('_')}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f'{cls.__name__}: unknown option(s) {", ".join(unknown)}; '
                             f'known: {", ".join(sorted(known))}')

    def replace(self: _C, **changes: Any) -> _C:  # noqa: PYI019 - typing.Self is 3.11+
        """Return a validated copy with ``changes`` applied."""
        self._refuse_unknown(changes)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if not f.name.startswith('_')}

    @classmethod
    def field_table(cls) -> list[tuple[str, Any, Mapping[str, Any]]]:
        """(name, default, metadata) of every field: for parameter descriptors and CLI flags."""
        return [(f.name, f.default, f.metadata) for f in dataclasses.fields(cls)]
