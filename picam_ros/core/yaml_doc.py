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

"""Hand-written YAML files: one loader, so every error names the file and what it expected."""

from __future__ import annotations

from collections.abc import Mapping
import os
from pathlib import Path
from typing import Any

import yaml


def load_mapping(text: str, source: str, expected: str) -> Mapping[str, Any]:
    """Return the YAML document in ``text``, which must be a mapping.

    Raises ValueError naming ``source``: for a syntax error with YAML's own words, for any other
    document with ``expected`` (what the mapping should hold, e.g. "keys version, down, up").
    """
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f'{source}: not valid YAML ({exc})') from None
    if not isinstance(doc, Mapping):
        raise ValueError(  # noqa: TRY004 - a malformed file is a bad value
            f'{source}: expected a mapping with {expected}')
    return doc


def read_text(path: str | os.PathLike, what: str) -> str:
    """Return the UTF-8 text of ``path``; ValueError naming it and ``what`` it should hold."""
    try:
        return Path(path).read_text(encoding='utf-8')
    except OSError as exc:
        raise ValueError(f'{path}: cannot read the {what} ({exc.strerror})') from None
