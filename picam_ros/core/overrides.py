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

"""Parameter values a node was given that nothing declares (a misspelt name in a YAML file).

rclpy keeps such values without a word (``widht: 640`` is silently ignored): a node compares
the names it was given (parameter files, ``-p`` on the command line) with those it declared
and warns about each stray one, suggesting the declared name it most likely meant.
"""

from __future__ import annotations

from collections.abc import Iterable
import difflib
import re

__all__ = ['rcl_error_text', 'undeclared_warnings']

#: Names every rclpy node accepts without declaring them itself.
_ALWAYS_KNOWN = ('use_sim_time', 'start_type_description_service')


def undeclared_warnings(given: Iterable[str], declared: Iterable[str],
                        node: str) -> list[str]:
    """One warning per name in ``given`` that ``declared`` lacks, with a did-you-mean."""
    declared = sorted(set(declared))
    warnings = []
    for name in sorted(set(given) - set(declared)):
        if name in _ALWAYS_KNOWN or name.startswith('qos_overrides.'):
            continue
        text = f'parameter {name!r} is not a parameter of the {node} node and is ignored'
        close = difflib.get_close_matches(name, declared, n=1, cutoff=0.7)
        if close:
            text += f': did you mean {close[0]!r}?'
        warnings.append(text)
    return warnings


def rcl_error_text(error: BaseException) -> str:
    """Return an rcl error's text without its C source locations (``, at /path/file.c:1``)."""
    return re.sub(r',? at \S+\.c:\d+', '', str(error)).strip()
