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

"""README.md states what the code does: its commands are the ones CI runs."""

from pathlib import Path
import re
import subprocess

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / 'README.md').read_text()


def bash_commands() -> list[str]:
    return re.findall(r'```bash\n(.*?)\n```', README, flags=re.DOTALL)


def test_readme_starts_with_the_run_and_test_commands_that_ci_runs():
    run, test = bash_commands()[:2]
    assert 'picam-ros' in run and 'scripts/setup.sh' in run
    assert 'pytest' in test and 'scripts/setup.sh --test' in test
    ci = subprocess.run(['bash', '.ci/run', '--print-test-command'], cwd=ROOT,
                        capture_output=True, text=True, timeout=30, check=True)
    assert ci.stdout.strip() == test
