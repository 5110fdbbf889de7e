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

"""The operator node's parameters are rows of the one schema.

The same names and defaults as before, checks like every node's, one live row, and a generated
table in docs/parameters.md.
"""

from pathlib import Path

import pytest

from picam_ros.core.params import config_from_rows, config_with_changes
from picam_ros.operator_page.settings import operator_parameter_rows, OperatorParams

ROOT = Path(__file__).resolve().parent.parent
ROWS = operator_parameter_rows()

#: The node's parameters as it declared them by hand before the schema (name: default).
DECLARED_BEFORE = {
    'host': '127.0.0.1', 'port': 8080, 'token_file': '', 'whep_url': '', 'video_url': '',
    'media_dir': '', 'profiles': ['pads'], 'centroid_node': 'centroids', 'mode_node': '',
    'mode_parameter': 'mode', 'machine_node': '', 'calibration_file': '',
    'frame_id': 'camera_optical_frame',
}


def test_the_rows_keep_the_names_and_defaults_the_node_declared():
    assert {row.name: row.default for row in ROWS} == DECLARED_BEFORE
    assert all(row.description for row in ROWS)


def test_only_frame_id_changes_while_the_node_runs():
    assert [row.name for row in ROWS if not row.read_only] == ['frame_id']


def test_the_port_is_declared_with_the_tcp_range():
    port = next(row for row in ROWS if row.name == 'port')
    assert port.descriptor_fields()['integer_range'] == (0, 65535, 1)
    assert port.check(65535).ok and port.check(0).ok
    assert port.check(65536).reason == 'port: 65536 is above the maximum 65535'
    assert port.check(-1).reason == 'port: -1 is below the minimum 0'


@pytest.mark.parametrize('name, value, reason', [
    ('port', 70000, 'port: 70000 is above the maximum 65535'),
    ('port', '8080', "port: expected integer, got '8080'"),
    ('host', 5, 'host: expected string, got 5'),
    ('profiles', [1], 'profiles: expected string array, got [1]'),
])
def test_a_bad_value_is_refused_naming_the_parameter(name, value, reason):
    with pytest.raises(ValueError) as error:
        config_from_rows(OperatorParams, ROWS, {name: value})
    assert str(error.value) == reason


def test_the_defaults_build_the_config_the_node_ran_on():
    params = config_from_rows(OperatorParams, ROWS, {row.name: row.default for row in ROWS})
    assert params == OperatorParams() and params.profiles == ('pads',)


def test_a_live_change_is_all_or_nothing():
    params = OperatorParams()
    assert config_with_changes(params, ROWS, {'frame_id': 'tray'}).frame_id == 'tray'
    with pytest.raises(ValueError, match='frame_id: expected string'):
        config_with_changes(params, ROWS, {'frame_id': 3, 'port': 9000})
    assert config_with_changes(params, ROWS, {'pads.luma_min': 100}) is params  # not ours


def test_the_generated_parameter_docs_list_every_operator_parameter():
    text = (ROOT / 'docs' / 'parameters.md').read_text()
    section = text.split('\n## operator\n', 1)[1].split('\n## ', 1)[0]
    listed = [line.split('`')[1] for line in section.splitlines() if line.startswith('| `')]
    assert listed == [row.name for row in ROWS]
    assert '| `port` | integer | `8080` | 0 .. 65535 | no |' in section
