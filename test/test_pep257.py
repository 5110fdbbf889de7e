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

"""Docstring style with ament_pep257's rules, as ``colcon test`` runs it on ROS.

On a ROS machine this uses ament_pep257; elsewhere pydocstyle (which ament_pep257 wraps) with
the same selection, so the same code passes in both places.

One deliberate change to ament's convention: D213 (summary on the second line of a multi-line
docstring) is not checked. ament ignores D212 and so demands D213; this package follows PEP 257's
own layout, summary on the first line, everywhere.

ament_pep257 does not exempt ``@property`` docstrings from D401 (imperative mood), newer
pydocstyle does by default: the fallback names no property decorator, so both agree.
"""

from importlib import util
from pathlib import Path
import subprocess
import sys

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKED = [str(ROOT / name) for name in ('picam_ros', 'launch', 'test', 'bench', 'setup.py')
           if (ROOT / name).exists()]
#: ament_pep257's "ament" convention (pydocstyle --ignore list), plus the deliberate D213.
AMENT_IGNORE = 'D100,D101,D102,D103,D104,D105,D106,D107,D203,D212,D404'
HAVE_AMENT = util.find_spec('ament_pep257') is not None
HAVE_PYDOCSTYLE = util.find_spec('pydocstyle') is not None


@pytest.mark.skipif(not (HAVE_AMENT or HAVE_PYDOCSTYLE),
                    reason='neither ament_pep257 (ROS 2) nor pydocstyle is installed')
def test_pep257():
    if HAVE_AMENT:
        from ament_pep257.main import main

        assert main(argv=[*CHECKED, '--add-ignore', 'D213']) == 0, 'Found docstring errors'
    else:
        result = subprocess.run(
            [sys.executable, '-m', 'pydocstyle', f'--ignore={AMENT_IGNORE},D213',
             '--property-decorators=__no_property_exemption__',
             '--match=.*\\.py', '--match-dir=[^\\._].*', *CHECKED],
            capture_output=True, text=True, timeout=300, check=False)
        assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
