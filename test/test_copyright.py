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

"""ament_copyright over the package: every source file carries the Apache-2.0 header.

The header is the one ``ament_copyright --add-missing "picam_ros maintainers" apache2`` writes
(13 comment lines above the module docstring; see any file in this package).
"""

from pathlib import Path

import pytest

main = pytest.importorskip(
    'ament_copyright.main', reason='ament_copyright is not installed (it comes with ROS 2)').main

ROOT = Path(__file__).resolve().parent.parent
CHECKED = [str(ROOT / name) for name in ('picam_ros', 'launch', 'test', 'bench', 'src_cpp')
           if (ROOT / name).exists()]


def test_copyright():
    rc = main(argv=CHECKED)
    assert rc == 0, 'Found errors'
