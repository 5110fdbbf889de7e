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

"""Records of one logger, for tests, whatever logger class is installed.

launch (imported by launch_testing's pytest plugin on every ROS machine) installs a
non-propagating logger class, so pytest's caplog sees nothing from loggers created afterwards:
tests listen on the logger itself.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import logging


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def records_of(name: str, level: int = logging.DEBUG) -> Iterator[list[logging.LogRecord]]:
    """Collect the records of logger ``name`` (and its children) at ``level`` and above."""
    logger = logging.getLogger(name)
    handler, previous = _Records(), logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
