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

"""The docs hold together: a short README at the door, and no link that leads nowhere."""

from pathlib import Path
import re
import subprocess
import sys

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / 'README.md', *sorted((ROOT / 'docs').glob('*.md'))]
LINK = re.compile(r'\[[^\]]*\]\(([^)\s]+)\)')


def anchors(page: Path) -> set[str]:
    """Return the anchors a page's headings get (GitHub's and Sphinx/MyST's slugs agree here)."""
    found = set()
    for line in page.read_text().splitlines():
        if line.startswith('#'):
            text = line.lstrip('#').strip().lower()
            found.add(re.sub(r'[^\w\- ]', '', text).replace(' ', '-'))
    return found


def test_the_readme_is_a_front_door_not_the_whole_house():
    assert len((ROOT / 'README.md').read_text().splitlines()) <= 250


def test_every_page_under_docs_is_linked_from_the_readme():
    readme = (ROOT / 'README.md').read_text()
    assert [p.name for p in PAGES[1:] if f'(docs/{p.name})' not in readme] == []


def test_the_rosdoc2_index_lists_every_page_under_docs():
    """rosdoc2 builds docs/index.rst's toctree; a page left out of it is built but unreachable."""
    index = (ROOT / 'docs' / 'index.rst').read_text()
    listed = re.findall(r'^   ([\w-]+)$', index, flags=re.MULTILINE)
    assert sorted(listed) == sorted(p.stem for p in PAGES[1:])


def test_every_relative_link_leads_to_a_file_and_heading_that_exist():
    broken = []
    for page in PAGES:
        for target in LINK.findall(page.read_text()):
            if re.match(r'^[a-z]+:', target):
                continue   # http(s), mailto: not this test's business
            path, _, anchor = target.partition('#')
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f'{page.name}: {target} (no such file)')
            elif anchor and file.suffix == '.md' and anchor not in anchors(file):
                broken.append(f'{page.name}: {target} (no such heading)')
    assert broken == []


def test_the_parameter_tables_match_what_the_nodes_declare():
    result = subprocess.run([sys.executable, 'scripts/update_docs.py', '--check'], cwd=ROOT,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
