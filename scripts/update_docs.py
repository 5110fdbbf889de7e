#!/usr/bin/env python3
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

"""Regenerate the parameter tables of docs/parameters.md from the rows the nodes declare.

    python scripts/update_docs.py          # rewrite the section in place
    python scripts/update_docs.py --check  # exit 1 if docs/parameters.md is out of date

The tables come from ``python -m picam_ros.core.parameter_docs`` (the same ParamRow tables the
nodes turn into ParameterDescriptors), so the README cannot drift from what
``ros2 param describe`` says.
"""

import argparse
from pathlib import Path
import subprocess
import sys

README = Path(__file__).resolve().parent.parent / 'docs' / 'parameters.md'
BEGIN, END = '<!-- parameters:begin -->', '<!-- parameters:end -->'


def rendered() -> str:
    tables = subprocess.run([sys.executable, '-m', 'picam_ros.core.parameter_docs'], check=True,
                            capture_output=True, text=True).stdout.strip()
    return f'{BEGIN}\n{tables}\n{END}'


def current(text: str) -> str:
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[start:end]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--check', action='store_true', help='only check, exit 1 if stale')
    args = parser.parse_args()
    text = README.read_text()
    fresh = rendered()
    if current(text) == fresh:
        return 0
    if args.check:
        print('docs/parameters.md is stale: run python scripts/update_docs.py',
              file=sys.stderr)
        return 1
    README.write_text(text.replace(current(text), fresh))
    return 0


if __name__ == '__main__':
    sys.exit(main())
