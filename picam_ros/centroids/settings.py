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

"""The centroid node's settings, ROS-free: keying profiles and every parameter it declares."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import re
from typing import Any, NamedTuple

from picam_ros.centroids.engine import KeyingParams
from picam_ros.core.config import ConfigError
from picam_ros.core.pacing import DECIMATION_ROWS
from picam_ros.core.params import config_from_ros, ParamRow, rows_from_config

_PROFILE_NAME = re.compile(r'[A-Za-z][A-Za-z0-9_]*\Z')


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
            name: rows_from_config(KeyingParams, prefix=name, flag_prefix='')
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
            except ConfigError as error:
                raise error.renamed({row.field: row.name for row in rows}) from None
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
            except ConfigError as error:
                reason = str(error.renamed({row.field: row.name for row in self.rows[profile]}))
                return Proposal(False, reason, dict(current))
        return Proposal(True, '', profiles)


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
