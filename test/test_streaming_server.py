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

"""Specification of MediaServer supervision, against a fake MediaMTX (a real listening process).

The fake takes the same command line and MTX_* port variables as MediaMTX, prints log lines the
way MediaMTX does, and listens on the RTSP port after a delay.
"""

import dataclasses
import os
import signal
import socket
import threading

from proctree import process_gone, wait_until
import pytest
from stream_fixtures import free_server_ports, free_tcp_port, write_fake_mediamtx
import yaml

from picam_ros.core.process import tcp_port_accepts
from picam_ros.stream.mediamtx import (
    default_mediamtx_config,
    find_mediamtx,
    MediaServer,
    MediaServerConfig,
    MediaServerUnavailable,
)

GUARD = 20.0


@pytest.fixture
def fake_mediamtx(tmp_path):
    return write_fake_mediamtx(tmp_path)


def server_config(binary: str, **changes) -> MediaServerConfig:
    return MediaServerConfig(mediamtx_path=binary, backoff_initial=0.05,
                             **{**free_server_ports(), **changes})


def test_start_returns_once_the_rtsp_port_accepts_and_every_listener_is_open(fake_mediamtx):
    config = server_config(fake_mediamtx)
    with MediaServer(config) as server:
        assert tcp_port_accepts('127.0.0.1', config.rtsp_port)
        assert server.ready and server.state == 'ready'
        pid = server.pid
    assert process_gone(pid)
    assert not server.ready and server.state == 'stopped'


def test_a_server_whose_webrtc_udp_port_stays_closed_is_not_ready(fake_mediamtx, monkeypatch):
    monkeypatch.setenv('FAKE_SKIP', 'WEBRTCLOCALUDP')   # only the browser's port stays shut
    closed = r'not ready.*still closed: webrtc media \(UDP\) port'
    with pytest.raises(MediaServerUnavailable, match=closed):
        MediaServer(server_config(fake_mediamtx, ready_timeout=1.5)).start()


def test_killed_server_is_restarted_and_ready_again(fake_mediamtx):
    config = server_config(fake_mediamtx)
    with MediaServer(config) as server:
        first = server.pid
        os.kill(first, signal.SIGKILL)
        assert wait_until(lambda: server.restarts == 1 and server.ready, GUARD), server.state
        assert server.pid != first
        assert tcp_port_accepts('127.0.0.1', config.rtsp_port)
        assert 'MediaMTX exited' in server.last_error
    assert process_gone(server.pid)


def test_restart_right_after_stop_works_every_time(fake_mediamtx):
    server = MediaServer(server_config(fake_mediamtx, ready_timeout=10))
    pids = []
    for _ in range(5):
        server.start()
        assert server.ready
        pids.append(server.pid)
        server.stop()
        assert process_gone(pids[-1])
    assert len(set(pids)) == 5
    assert server.restarts == 0


def test_stop_while_starting_leaves_no_process(fake_mediamtx, monkeypatch):
    monkeypatch.setenv('FAKE_DELAY', '60')
    server = MediaServer(server_config(fake_mediamtx, ready_timeout=60))
    starter = threading.Thread(target=server.start)
    starter.start()
    assert wait_until(lambda: server.pid is not None, GUARD)
    pid = server.pid
    server.stop()
    starter.join(timeout=GUARD)
    assert not starter.is_alive()
    assert process_gone(pid) and server.state == 'stopped'


def test_server_failing_at_start_is_unavailable_with_its_output(fake_mediamtx, monkeypatch):
    monkeypatch.setenv('FAKE_FAIL', "json: unknown field 'rtspTransport'")
    server = MediaServer(server_config(fake_mediamtx))
    with pytest.raises(MediaServerUnavailable, match="unknown field 'rtspTransport'") as info:
        server.start()
    assert 'exit status 1' in str(info.value)
    assert server.state == 'failed' and not server.ready


def test_busy_rtsp_port_is_reported_before_anything_starts(fake_mediamtx):
    config = server_config(fake_mediamtx)
    with socket.socket() as squatter:
        squatter.bind(('127.0.0.1', config.rtsp_port))
        squatter.listen()
        server = MediaServer(config)
        with pytest.raises(MediaServerUnavailable,
                           match=f'rtsp port {config.rtsp_port} is already in use'):
            server.start()
    assert server.pid is None


def test_missing_binary_is_unavailable_with_one_clear_message(monkeypatch, tmp_path):
    monkeypatch.delenv('MEDIAMTX', raising=False)
    monkeypatch.setenv('PATH', str(tmp_path))
    monkeypatch.setenv('PICAM_CACHE', str(tmp_path / 'cache'))
    with pytest.raises(MediaServerUnavailable, match='MediaMTX not found on PATH') as info:
        MediaServer(MediaServerConfig(rtsp_port=free_tcp_port())).start()
    assert info.value.__cause__ is None
    assert f'or in {tmp_path}/cache/mediamtx-*/mediamtx' in str(info.value)
    with pytest.raises(MediaServerUnavailable, match="not found at '/nonexistent/mediamtx'"):
        MediaServer(MediaServerConfig(mediamtx_path='/nonexistent/mediamtx')).start()


def test_the_newest_build_of_get_mediamtx_is_found_without_configuration(monkeypatch, tmp_path):
    monkeypatch.delenv('MEDIAMTX', raising=False)
    monkeypatch.setenv('PATH', str(tmp_path / 'bin'))
    monkeypatch.setenv('PICAM_CACHE', str(tmp_path))
    # A cross build for another machine (get-mediamtx.sh --arch arm64) is never the one run.
    for version in ('v1.9.3', 'v1.20.1', 'v1.20.1-linux_arm64', 'v1.20.1-linux_armv7'):
        binary = tmp_path / f'mediamtx-{version}' / 'mediamtx'
        binary.parent.mkdir()
        binary.write_text('#!/bin/sh\n')
        binary.chmod(0o755)
    assert find_mediamtx() == (str(tmp_path / 'mediamtx-v1.20.1' / 'mediamtx'),
                               ['on PATH', f'in {tmp_path}/mediamtx-*/mediamtx'])
    assert MediaServer(MediaServerConfig()).resolve_binary() == find_mediamtx()[0]


def test_mediamtx_environment_variable_names_the_binary(fake_mediamtx, monkeypatch):
    monkeypatch.setenv('MEDIAMTX', fake_mediamtx)
    config = server_config(fake_mediamtx)
    with MediaServer(dataclasses.replace(config, mediamtx_path=None)) as server:
        assert server.ready


def test_missing_config_file_is_unavailable(fake_mediamtx, tmp_path):
    server = MediaServer(server_config(fake_mediamtx, config_file=str(tmp_path / 'none.yml')))
    with pytest.raises(MediaServerUnavailable, match='none.yml'):
        server.start()


def test_external_mode_only_probes_the_port():
    port = free_tcp_port()
    server = MediaServer(MediaServerConfig(external=True, rtsp_port=port,
                                           mediamtx_path='/nonexistent/mediamtx'))
    server.start()   # nothing listens yet: no error, publishers wait for it
    assert server.state == 'external' and not server.ready
    with socket.socket() as running_elsewhere:
        running_elsewhere.bind(('127.0.0.1', port))
        running_elsewhere.listen()
        assert server.ready
        assert server.pid is None
    server.stop()
    assert server.state == 'stopped'


@pytest.mark.parametrize(('changes', 'field'), [
    ({'rtsp_port': 70000}, 'rtsp_port'),
    ({'rtsp_port': 8889}, 'must differ'),
    ({'ready_timeout': 0}, 'ready_timeout'),
])
def test_invalid_server_config_names_the_problem(changes, field):
    with pytest.raises(ValueError, match=field):
        MediaServerConfig(**changes)


# -- the packaged MediaMTX configuration -------------------------------------------------------

def test_default_config_is_the_packaged_mediamtx_yml():
    path = default_mediamtx_config()
    assert path.name == 'mediamtx.yml' and path.parent.name == 'config'


def test_packaged_config_publishes_from_localhost_only_and_serves_readers_anywhere():
    config = yaml.safe_load(default_mediamtx_config().read_text())
    users = config['authInternalUsers']
    publishers = [u for u in users if any(p['action'] == 'publish' for p in u['permissions'])]
    readers = [u for u in users if any(p['action'] == 'read' for p in u['permissions'])]
    assert [sorted(u['ips']) for u in publishers] == [['127.0.0.1', '::1']]
    assert [u['ips'] for u in readers] == [[]]
    assert not any(p['action'] in ('api', 'metrics', 'pprof') for u in users
                   for p in u['permissions'])


def test_packaged_config_serves_rtsp_and_webrtc_with_everything_else_off():
    config = yaml.safe_load(default_mediamtx_config().read_text())
    assert config['rtsp'] and config['webrtc']
    assert config['rtspAddress'] == ':8554' and config['webrtcAddress'] == ':8889'
    assert not any(config[key] for key in ('api', 'metrics', 'pprof', 'playback', 'rtmp', 'srt'))
    assert config['paths']['all_others']['overridePublisher'] is True
