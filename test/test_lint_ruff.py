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

"""ruff over the package with ruff.toml: the ament lint rules, checked without ROS."""

import os
from pathlib import Path
import shutil
import subprocess
import sys

import pytest

ROOT = Path(__file__).resolve().parent.parent
# ruff from the test extra sits beside this Python (.venv/bin), which need not be on PATH.
RUFF = shutil.which('ruff', path=os.pathsep.join([str(Path(sys.executable).parent),
                                                  os.environ.get('PATH', os.defpath)]))


@pytest.mark.skipif(RUFF is None, reason='ruff is not installed (pip install ruff)')
def test_ruff_finds_nothing_to_complain_about():
    result = subprocess.run([RUFF, 'check', '--no-cache', '--output-format', 'concise', '.'],
                            cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
