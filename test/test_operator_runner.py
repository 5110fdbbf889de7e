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

"""The operator page's standalone runner (``python -m picam_ros.operator_page``) as a process."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
import json
import re
import signal
import subprocess
import sys

import pytest
import stop_harness

aiohttp = pytest.importorskip('aiohttp', reason='the operator page needs aiohttp')

GUARD_S = 20.0   # failure guard only
#: Longest time from a stop signal to the exit (loading under load included).
STOP_BOUND_S = 6.0


@pytest.fixture
def runner():
    process = subprocess.Popen(
        [sys.executable, '-m', 'picam_ros.operator_page', '--port', '0', '--width', '320',
         '--height', '240'], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stderr.readline()
    match = re.search(r'(http://[^ ]+/)#token=(\S+)', line)
    assert match, line
    yield process, match.group(1), match.group(2)
    if process.poll() is None:
        process.kill()
        process.wait(GUARD_S)


async def session(url, token, scenario):
    async with aiohttp.ClientSession() as client, client.ws_connect(f'{url}ws') as ws:
        async def receive(kind):
            while True:
                data = json.loads((await asyncio.wait_for(ws.receive(), GUARD_S)).data)
                if data['type'] == kind:
                    return data

        await ws.send_str(json.dumps({'action': 'auth', 'token': token, 'id': 1}))
        await receive('authorised')
        return await scenario(ws, receive)


def test_the_runner_serves_sequence_tagged_sets_and_prints_targets(runner):
    process, url, token = runner

    async def scenario(ws, receive):
        first = await receive('centroids')
        await ws.send_str(json.dumps({'action': 'set_parameter', 'name': 'pads.luma_min',
                                      'value': 300, 'id': 2}))
        refused = await receive('refused')
        await ws.send_str(json.dumps({'action': 'select_target', 'x': first['points'][0][0],
                                      'y': first['points'][0][1], 'profile': 'pads',
                                      'seq': first['seq'], 'id': 3}))
        await receive('done')
        return first, refused

    first, refused = asyncio.run(session(url, token, scenario))
    assert isinstance(first['seq'], int) and first['points']
    assert 'pads.luma_min: 300 is above the maximum 255' in refused['reason']
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=GUARD_S)
    assert process.returncode == 0
    target = json.loads(out.splitlines()[0])['target']
    assert (target['x'], target['y'], target['seq']) == (first['points'][0][0],
                                                         first['points'][0][1], first['seq'])


def test_a_bad_port_is_one_line_and_status_2():
    result = subprocess.run([sys.executable, '-m', 'picam_ros.operator_page', '--port', '70000'],
                            check=False, capture_output=True, text=True, timeout=GUARD_S)
    assert result.returncode == 2
    assert result.stderr.strip() == ('picam_ros.operator_page: port: 70000 is not a TCP port '
                                     '(0-65535)')


def test_sigint_at_any_moment_of_start_up_stops_the_page_quietly_with_status_0():
    """The page's process hears a stop while it loads, starts its server and serves alike."""
    command = [sys.executable, '-m', 'picam_ros.operator_page', '--port', '0', '--width', '320',
               '--height', '240']
    moments = [round(0.125 * i, 3) for i in range(17)]   # 0 to 2 s
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda moment: stop_harness.stop_after(moment, command), moments))
    if 'error' in runs[0]:
        pytest.skip(f'the harness cannot run here: {runs[0]["error"]}')
    quiet = re.compile(r'operator page: http://\S+ \(token [^)]*\)$')
    failures = [run for run in runs
                if run['status'] != 0 or run['stop_s'] > STOP_BOUND_S or run['left']
                or not all(quiet.match(line) for line in run['stderr'].splitlines())]
    assert not failures, json.dumps(failures, indent=1)
    assert any(run['stderr'] for run in runs), 'the sweep must reach the serving state too'
