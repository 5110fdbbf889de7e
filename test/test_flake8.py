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

"""flake8 over the package with ament_flake8's rules, as ``colcon test`` runs it on ROS.

On a ROS machine this uses ament_flake8 itself; elsewhere plain flake8 with the plugins ament
loads (pip: flake8 flake8-builtins flake8-comprehensions flake8-docstrings flake8-import-order
flake8-quotes), so the same code passes in both places.

Deliberate settings beyond ament's configuration:

- ``application-import-names = picam_ros``: the package's own imports form the last import
  group (stdlib, third party, then ours), which is also how ruff (ruff.toml) sorts them.
- A003 ignored: class attributes named like builtins (``Frame.format``, ``FfmpegConfig.input``)
  are part of the package's interfaces; they shadow nothing at module level.
"""

from importlib import util
from pathlib import Path
import subprocess
import sys

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKED = [str(ROOT / name) for name in ('picam_ros', 'launch', 'test', 'bench', 'setup.py')
           if (ROOT / name).exists()]
CONFIG = """\
[flake8]
extend-ignore = A003,B902,C816,D100,D101,D102,D103,D104,D105,D106,D107,D203,D212,D404,I202
import-order-style = google
application-import-names = picam_ros
max-line-length = 99
show-source = true
statistics = true
"""
PLUGINS = ('flake8', 'flake8_builtins', 'flake8_comprehensions', 'flake8_docstrings',
           'flake8_import_order', 'flake8_quotes')
HAVE_AMENT = util.find_spec('ament_flake8') is not None
MISSING = [name for name in PLUGINS if util.find_spec(name) is None]


@pytest.mark.skipif(not HAVE_AMENT and bool(MISSING),
                    reason=f'neither ament_flake8 (ROS 2) nor flake8 with its plugins: '
                           f'{", ".join(MISSING)} missing')
def test_flake8(tmp_path):
    config = tmp_path / 'flake8.ini'
    config.write_text(CONFIG)
    if HAVE_AMENT:
        from ament_flake8.main import main_with_errors

        rc, errors = main_with_errors(argv=['--config', str(config), *CHECKED])
        assert rc == 0, f'Found {len(errors)} code style errors / warnings:\n' + '\n'.join(errors)
    else:
        result = subprocess.run([sys.executable, '-m', 'flake8', '--config', str(config),
                                 *CHECKED], capture_output=True, text=True, timeout=300,
                                check=False)
        assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
