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

The header is what ``ament_copyright --add-missing "picam_ros maintainers" apache2`` writes: a
``Copyright <year> <holder>`` line and the Apache-2.0 notice, as comments above everything else
(``#`` in Python, ``//`` in C++; see any file of this package). On a ROS machine ament_copyright
itself checks; elsewhere the same header is looked for directly. ``setup.py`` beside
package.xml is exempt, as ament_copyright exempts it.
"""

from importlib import util
from pathlib import Path
import re

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKED = [ROOT / name for name in ('picam_ros', 'launch', 'test', 'bench', 'src_cpp')
           if (ROOT / name).exists()]
EXTENSIONS = {'.c', '.cc', '.cpp', '.cxx', '.h', '.hh', '.hpp', '.hxx', '.py'}
NOTICE = [
    'Licensed under the Apache License, Version 2.0 (the "License");',
    'you may not use this file except in compliance with the License.',
    'You may obtain a copy of the License at',
    'http://www.apache.org/licenses/LICENSE-2.0',
    'Unless required by applicable law or agreed to in writing, software',
    'distributed under the License is distributed on an "AS IS" BASIS,',
    'WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.',
    'See the License for the specific language governing permissions and',
    'limitations under the License.',
]
COPYRIGHT = re.compile(r'Copyright (\(c\) )?\d{4}(-\d{4})?(, \d{4}(-\d{4})?)* \S')


def header_problem(path):
    """Say what is wrong with ``path``'s license header, or return '' when it is right."""
    lines = path.read_text(encoding='utf-8').splitlines()
    if not lines:
        return ''
    if lines[0].startswith('#!'):
        lines = lines[1:]
    comment = []
    for line in lines:
        stripped = line.strip()
        if not stripped.startswith(('#', '//')):
            break
        comment.append(stripped.lstrip('#/').strip())
    if not comment or not COPYRIGHT.match(comment[0]):
        return 'no "Copyright <year> <holder>" comment on the first line'
    text = [line for line in comment[1:] if line]
    if text[:len(NOTICE)] != NOTICE:
        return 'the Apache-2.0 notice does not follow the copyright line'
    return ''


def source_files():
    for base in CHECKED:
        for path in sorted(base.rglob('*')):
            parts = path.relative_to(ROOT).parts
            if (path.suffix in EXTENSIONS and path.is_file()
                    and not any(part.startswith(('.', '_')) for part in parts[:-1])):
                yield path


HAVE_AMENT = util.find_spec('ament_copyright') is not None


@pytest.mark.skipif(not HAVE_AMENT and not (ROOT / 'LICENSE').exists(),
                    reason='no ament_copyright, and the repository has no LICENSE file yet: '
                           'the ROS-free header check starts with the Apache-2.0 LICENSE')
def test_copyright():
    if HAVE_AMENT:
        from ament_copyright.main import main

        assert main(argv=[str(path) for path in CHECKED]) == 0, 'Found errors'
        return
    problems = [f'{path.relative_to(ROOT)}: {problem}' for path in source_files()
                if (problem := header_problem(path))]
    assert not problems, f'{len(problems)} files lack the license header:\n' + '\n'.join(problems)


def test_header_check_tells_a_headed_file_from_a_bare_one(tmp_path):
    headed = tmp_path / 'headed.py'
    headed.write_text(Path(__file__).read_text())
    assert header_problem(headed) == ''
    bare = tmp_path / 'bare.py'
    bare.write_text('"""No header."""\n')
    assert 'Copyright' in header_problem(bare)
    cpp = tmp_path / 'code.hpp'
    cpp.write_text('\n'.join(['// Copyright 2026 picam_ros maintainers', '//',
                              *[f'// {line}' for line in NOTICE], '', '#pragma once']))
    assert header_problem(cpp) == ''
