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

"""When the shipped FastDDS large-frame profile is applied, and the warning a node prints."""

from pathlib import Path
from xml.etree import ElementTree

import pytest

from picam_ros.ros import dds_profile

ROOT = Path(__file__).resolve().parent.parent
FRAME_1920 = 1920 * 1920 * 3 // 2


def test_shipped_profile_gives_a_64_mib_shared_memory_segment_and_keeps_udp():
    ns = {'d': 'http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles'}
    root = ElementTree.parse(ROOT / 'config' / dds_profile.PROFILE_NAME).getroot()
    kinds = {d.findtext('d:transport_id', namespaces=ns): d.findtext('d:type', namespaces=ns)
             for d in root.iterfind('.//d:transport_descriptor', ns)}
    shm = next(d for d in root.iterfind('.//d:transport_descriptor', ns)
               if d.findtext('d:type', namespaces=ns) == 'SHM')
    assert int(shm.findtext('d:segment_size', namespaces=ns)) == 64 * 1024 * 1024
    assert 64 * 1024 * 1024 > 10 * FRAME_1920
    participant = root.find('.//d:participant', ns)
    assert participant.get('is_default_profile') == 'true'
    used = [e.text for e in participant.iterfind('.//d:userTransports/d:transport_id', ns)]
    assert sorted(kinds[name] for name in used) == ['SHM', 'UDPv4']


def test_profile_is_applied_on_a_stock_fastdds_environment():
    environ = {}
    profile = dds_profile.apply_default_profile(environ)
    assert profile is not None and profile.is_file()
    assert environ == {'FASTRTPS_DEFAULT_PROFILES_FILE': str(profile)}


@pytest.mark.parametrize('environ', [
    {'FASTRTPS_DEFAULT_PROFILES_FILE': '/mine.xml'},
    {'FASTDDS_DEFAULT_PROFILES_FILE': '/mine.xml'},
    {'RMW_IMPLEMENTATION': 'rmw_cyclonedds_cpp'},
    {'RMW_IMPLEMENTATION': 'rmw_zenoh_cpp'},
])
def test_a_profile_of_the_users_or_another_rmw_is_left_alone(environ):
    before = dict(environ)
    assert dds_profile.apply_default_profile(environ) is None
    assert environ == before
    assert dds_profile.large_frame_warning(FRAME_1920, environ) is None


def test_large_frames_on_stock_fastdds_get_one_line_naming_the_variable_and_file():
    warning = dds_profile.large_frame_warning(FRAME_1920, {})
    assert warning is not None and '\n' not in warning
    assert 'FASTRTPS_DEFAULT_PROFILES_FILE=' in warning and dds_profile.PROFILE_NAME in warning
    assert dds_profile.large_frame_warning(320 * 240 * 3 // 2, {}) is None
