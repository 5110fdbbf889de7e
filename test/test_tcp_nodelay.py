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

"""The TCP_NODELAY preload library: built with the package; Nagle off where it is loaded.

The encoder's own connection is checked against the real MediaMTX in test_streaming_mediamtx.py;
these are the library's behaviours in a process of ours.
"""

import json
import os
from pathlib import Path
import subprocess
import sys
import textwrap

import pytest

import picam_ros
from picam_ros.stream.tcp_nodelay import find_library, preload_env

pytestmark = pytest.mark.skipif(not sys.platform.startswith('linux'),
                                reason='LD_PRELOAD libraries are a Linux (glibc/ELF) mechanism')

PROBE = textwrap.dedent("""
    import json, socket
    result = {}
    for name, family, kind in (('tcp4', socket.AF_INET, socket.SOCK_STREAM),
                               ('tcp6', socket.AF_INET6, socket.SOCK_STREAM),
                               ('tcp4_nonblock_cloexec', socket.AF_INET,
                                socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)):
        with socket.socket(family, kind) as s:
            result[name] = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(('127.0.0.1', 0))
        result['udp_bound'] = s.getsockname()[1] > 0
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        result['unix_type'] = int(s.type)
    try:
        socket.socket(12345, socket.SOCK_STREAM)
    except OSError as error:
        result['bad_family_errno'] = error.errno
    print(json.dumps(result))
""")


def run_probe(env: dict[str, str]) -> dict[str, int]:
    done = subprocess.run([sys.executable, '-c', PROBE], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope='module')
def library() -> Path:
    found = find_library()
    assert found is not None, ('picam_ros._tcp_nodelay is not built next to the package: '
                               'setup.py build_ext builds it on Linux')
    return found


def test_the_library_is_built_next_to_the_package_it_serves(library):
    assert library.parent == Path(picam_ros.__file__).resolve().parent
    assert library.name.startswith('_tcp_nodelay.')


def test_tcp_sockets_of_a_process_it_is_preloaded_into_have_nagle_off(library):
    result = run_probe(preload_env(library, environ={}))
    assert result['tcp4'] == 1
    assert result['tcp6'] == 1
    assert result['tcp4_nonblock_cloexec'] == 1


def test_without_it_tcp_sockets_keep_nagle_on(library):
    environ = {key: value for key, value in os.environ.items() if key != 'LD_PRELOAD'}
    done = subprocess.run([sys.executable, '-c', PROBE], env=environ, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)['tcp4'] == 0


def test_other_sockets_and_socket_errors_are_as_libc_makes_them(library):
    plain = run_probe({})
    preloaded = run_probe(preload_env(library, environ={}))
    for key in ('udp_bound', 'unix_type', 'bad_family_errno'):
        assert preloaded[key] == plain[key], key


def test_a_preload_the_user_set_is_kept_after_ours(library):
    env = preload_env(library, environ={'LD_PRELOAD': '/opt/other.so'})
    assert env == {'LD_PRELOAD': f'{library}:/opt/other.so'}


def test_no_library_means_no_environment_change():
    assert preload_env(None, environ={'LD_PRELOAD': '/opt/other.so'}) == {}


def test_a_path_the_loader_would_split_is_not_preloaded(tmp_path):
    assert preload_env(tmp_path / 'a b' / '_tcp_nodelay.so', environ={}) == {}
    assert preload_env(tmp_path / 'a:b' / '_tcp_nodelay.so', environ={}) == {}


def test_a_directory_without_the_library_has_none(tmp_path):
    assert find_library(tmp_path) is None
