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
"""The /diagnostics messages both nodes publish, built one way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

OK, WARN, ERROR = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR


def diagnostic_status(name: str, hardware_id: str, level: bytes, message: str,
                      values: Mapping[str, Any]) -> DiagnosticStatus:
    """Build one status; every value is reported as its ``str()``."""
    return DiagnosticStatus(
        level=level, name=name, message=message, hardware_id=hardware_id,
        values=[KeyValue(key=key, value=str(value)) for key, value in values.items()])


def diagnostic_array(stamp: Any, statuses: Sequence[DiagnosticStatus]) -> DiagnosticArray:
    """Wrap statuses in the message published on /diagnostics, stamped ``stamp``."""
    array = DiagnosticArray()
    array.header.stamp = stamp
    array.status = list(statuses)
    return array
