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

"""The operator page's web core without a browser: token, validation, size cap, pushes."""

import asyncio
import json
from pathlib import Path
import re

import numpy as np
import pytest

aiohttp = pytest.importorskip('aiohttp', reason='the operator page needs aiohttp')

from picam_ros.operator_page.protocol import (  # noqa: E402, I100
    MAX_MESSAGE_BYTES,
    ParameterSpec,
    SelectTarget,
    SetMode,
    SetParameter,
)
from picam_ros.operator_page.server import (  # noqa: E402
    CentroidSet,
    HARD_MESSAGE_LIMIT,
    OperatorConfig,
    OperatorServer,
    Outcome,
    WEB_DIR,
)

TOKEN = 'correct-horse-battery'
GUARD_S = 10.0   # failure guard only
PARAMETERS = [ParameterSpec('pads.luma_min', 'integer', 0, 255),
              ParameterSpec('pads.luma_max', 'integer', 0, 255)]


class RecordingBackend:
    """Accepts everything except what the node would refuse (luma_min above luma_max)."""

    def __init__(self):
        self.actions = []

    def handle(self, action):
        if isinstance(action, SetParameter) and action.name == 'pads.luma_min' \
                and action.value > 200:
            return Outcome(False, f'luma_min: {action.value} is greater than luma_max 200')
        self.actions.append(action)
        return Outcome(True)


@pytest.fixture
def served():
    backend = RecordingBackend()
    server = OperatorServer(OperatorConfig(port=0, token=TOKEN), backend, PARAMETERS,
                            features={'modes': True})
    server.start()
    yield server, backend
    server.stop()


class Page:
    """A WebSocket client speaking the page's protocol."""

    def __init__(self, session, ws):
        self.session, self.ws = session, ws
        self.next_id = 1

    async def send(self, message):
        ident = self.next_id
        self.next_id += 1
        await self.ws.send_str(json.dumps({**message, 'id': ident}))
        return ident

    async def receive(self, kind):
        while True:
            message = await asyncio.wait_for(self.ws.receive(), GUARD_S)
            if message.type != aiohttp.WSMsgType.TEXT:
                return message
            data = json.loads(message.data)
            if data['type'] == kind:
                return data

    async def reply(self, message):
        """Send ``message`` and return the server's answer to it (done or refused)."""
        ident = await self.send(message)
        while True:
            message = await asyncio.wait_for(self.ws.receive(), GUARD_S)
            data = json.loads(message.data)
            if data.get('id') == ident and data['type'] in ('done', 'refused', 'authorised'):
                return data


def with_page(server, scenario):
    async def run():
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(f'{server.url()}ws') as ws:
            page = Page(session, ws)
            await page.receive('hello')
            return await scenario(page)
    return asyncio.run(run())


STATE_CHANGES = [
    {'action': 'select_target', 'x': 10.0, 'y': 20.0},
    {'action': 'set_parameter', 'name': 'pads.luma_min', 'value': 160},
    {'action': 'set_mode', 'mode': 'ONLYUP'},
    {'action': 'calibration_click', 'step': 'nozzle', 'x': 1.0, 'y': 2.0},
    {'action': 'find_nozzle'},
    {'action': 'calibration_scale', 'camera': 'down', 'x1': 1, 'y1': 2, 'x2': 50, 'y2': 2,
     'distance_mm': 2.54},
    {'action': 'rotate', 'degrees': 1.0},
    {'action': 'align'},
]


def test_without_the_token_every_state_change_is_refused(served):
    server, backend = served

    async def scenario(page):
        return [await page.reply(message) for message in STATE_CHANGES]

    replies = with_page(server, scenario)
    assert [r['type'] for r in replies] == ['refused'] * len(STATE_CHANGES)
    assert all('view-only' in r['reason'] and 'token' in r['reason'] for r in replies)
    assert backend.actions == []


def test_a_wrong_token_keeps_the_page_view_only(served):
    server, backend = served

    async def scenario(page):
        auth = await page.reply({'action': 'auth', 'token': 'guess'})
        target = await page.reply(STATE_CHANGES[0])
        return auth, target

    auth, target = with_page(server, scenario)
    assert auth['type'] == 'refused' and 'wrong token' in auth['reason']
    assert target['type'] == 'refused'
    assert backend.actions == []


def test_repeated_wrong_tokens_close_the_connection(served):
    server, _ = served

    async def scenario(page):
        for _ in range(5):
            await page.send({'action': 'auth', 'token': 'guess'})
        return await page.receive('never')

    closing = with_page(server, scenario)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


def test_with_the_token_actions_reach_the_backend_validated(served):
    server, backend = served

    async def scenario(page):
        assert (await page.reply({'action': 'auth', 'token': TOKEN}))['type'] == 'authorised'
        return [await page.reply(message) for message in STATE_CHANGES[:3]]

    replies = with_page(server, scenario)
    assert [r['type'] for r in replies] == ['done'] * 3
    assert backend.actions[0] == SelectTarget(10.0, 20.0, '', None, id=2)
    assert backend.actions[1] == SetParameter('pads.luma_min', 160, id=3)
    assert backend.actions[2] == SetMode('ONLYUP', id=4)


@pytest.mark.parametrize('text, reason', [
    ('{not json', 'not JSON'),
    ('[1, 2]', 'JSON object'),
    ('{"action": "format_disk"}', 'unknown action'),
    ('{"action": "set_mode", "mode": "TURBO"}', 'mode: expected one of'),
    ('{"action": "select_target", "x": 1e9, "y": 0}', 'x: 1e+09 is outside'),
    ('{"action": "select_target", "x": "1", "y": 0}', 'x: expected a finite number'),
    ('{"action": "select_target", "x": 1, "y": 2, "z": 3}', 'unexpected fields z'),
    ('{"action": "set_parameter", "name": "pads.luma_min", "value": 300}',
     'pads.luma_min: 300 is above the maximum 255'),
    ('{"action": "set_parameter", "name": "pads.luma_min", "value": 1.5}',
     'expected an integer'),
    ('{"action": "set_parameter", "name": "camera.source", "value": 1}',
     'not a parameter the page may set'),
    ('{"action": "rotate", "degrees": 720}', 'degrees: 720 is outside'),
    ('{"action": "find_nozzle", "x": 1}', 'find_nozzle: unexpected fields x'),
    ('{"action": "align", "part": "U1"}', 'align: unexpected fields part'),
    ('{"action": "calibration_click", "step": "scale", "x": 1, "y": 2}',
     'step: expected one of nozzle, reference'),
    (('{"action": "calibration_scale", "camera": "left", "x1": 1, "y1": 2, "x2": 50, "y2": 2, '
     '"distance_mm": 1}'), 'camera: expected one of down, up'),
    (('{"action": "calibration_scale", "camera": "down", "x1": 1, "y1": 2, "x2": 1.5, "y2": 2, '
     '"distance_mm": 1}'), 'less than a pixel apart'),
    (('{"action": "calibration_scale", "camera": "down", "x1": 1, "y1": 2, "x2": 50, "y2": 2, '
     '"distance_mm": 0}'), 'distance_mm: must be above 0'),
])
def test_bad_messages_get_a_clear_refusal_and_never_reach_the_backend(served, text, reason):
    server, backend = served

    async def scenario(page):
        await page.reply({'action': 'auth', 'token': TOKEN})
        await page.ws.send_str(text)
        return await page.receive('refused')

    refusal = with_page(server, scenario)
    assert reason in refusal['reason']
    assert backend.actions == []


def test_a_refusal_of_the_node_is_returned_with_its_reason(served):
    server, _ = served

    async def scenario(page):
        await page.reply({'action': 'auth', 'token': TOKEN})
        return await page.reply({'action': 'set_parameter', 'name': 'pads.luma_min',
                                 'value': 250})

    refusal = with_page(server, scenario)
    assert refusal == {'type': 'refused', 'id': 2,
                       'reason': 'luma_min: 250 is greater than luma_max 200'}


def test_a_message_over_the_size_limit_is_refused_without_parsing(served):
    server, backend = served
    padding = 'x' * MAX_MESSAGE_BYTES
    text = json.dumps({'action': 'set_mode', 'mode': 'NORMAL', 'pad': padding})

    async def scenario(page):
        await page.reply({'action': 'auth', 'token': TOKEN})
        await page.ws.send_str(text)
        return await page.receive('refused')

    assert 'larger than the 4096-byte limit' in with_page(server, scenario)['reason']
    assert backend.actions == []


def test_a_huge_message_closes_the_connection_with_message_too_big(served):
    server, backend = served

    async def scenario(page):
        await page.ws.send_str('"' + 'x' * (HARD_MESSAGE_LIMIT + 1) + '"')
        return await page.receive('never')

    closing = with_page(server, scenario)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert closing.data == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    assert backend.actions == []


def blobs(points):
    array = np.zeros(len(points), [('x', 'f8'), ('y', 'f8'), ('area', 'u4')])
    for i, (x, y, area) in enumerate(points):
        array[i] = (x, y, area)
    return array


def test_centroid_sets_are_pushed_with_their_frames_sequence_and_stamp(served):
    server, _ = served

    async def scenario(page):
        server.publish_centroids(CentroidSet('pads', 41, 1_700_000_000_123_456_789, 640, 480,
                                             blobs([(10.25, 20.5, 30), (100.0, 200.125, 7)])))
        return await page.receive('centroids')

    pushed = with_page(server, scenario)
    assert pushed['seq'] == 41 and pushed['stamp_ns'] == 1_700_000_000_123_456_789
    assert pushed['profile'] == 'pads' and (pushed['width'], pushed['height']) == (640, 480)
    assert pushed['points'] == [[10.25, 20.5, 30.0], [100.0, 200.125, 7.0]]


def test_a_page_that_connects_late_gets_the_recent_sets_oldest_first(served):
    server, _ = served
    for seq in range(3):
        server.publish_centroids(CentroidSet('pads', seq, seq, 64, 64, blobs([(seq, 0, 1)])))

    async def scenario(page):
        return [(await page.receive('centroids'))['seq'] for _ in range(3)]

    assert with_page(server, scenario) == [0, 1, 2]


def test_the_page_and_its_modules_are_served(served):
    server, _ = served

    async def run():
        async with aiohttp.ClientSession() as session:
            pages = {}
            for path in ('', 'web/main.js', 'config.json', 'web/../server.py'):
                async with session.get(server.url() + path) as response:
                    pages[path] = (response.status, response.content_type)
            return pages

    pages = asyncio.run(run())
    assert pages[''] == (200, 'text/html')
    assert pages['web/main.js'][0] == 200 and 'javascript' in pages['web/main.js'][1]
    assert pages['config.json'] == (200, 'application/json')
    assert pages['web/../server.py'][0] == 404


def test_a_busy_port_is_reported_with_the_address(served):
    server, _ = served
    other = OperatorServer(OperatorConfig(port=server.port, token=TOKEN), RecordingBackend())
    with pytest.raises(OSError, match=f'cannot listen on 127.0.0.1:{server.port}'):
        other.start()


def test_a_generated_token_is_long_and_random():
    first = OperatorServer(OperatorConfig(port=0), RecordingBackend())
    second = OperatorServer(OperatorConfig(port=0), RecordingBackend())
    assert len(first.token) >= 24 and first.token != second.token
    assert first.token_source == 'generated at start'


def test_the_token_can_come_from_a_file(tmp_path):
    path = tmp_path / 'token'
    path.write_text('from-a-file\n')
    server = OperatorServer(OperatorConfig(port=0, token_file=str(path)), RecordingBackend())
    assert server.token == 'from-a-file'
    (tmp_path / 'empty').write_text('')
    with pytest.raises(ValueError, match='is empty'):
        OperatorServer(OperatorConfig(port=0, token_file=str(tmp_path / 'empty')),
                       RecordingBackend())


def test_stop_closes_connected_pages_and_ends_the_server_thread():
    server = OperatorServer(OperatorConfig(port=0, token=TOKEN), RecordingBackend())
    server.start()

    async def run():
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(f'{server.url()}ws') as ws:
            await Page(session, ws).receive('hello')
            await asyncio.get_running_loop().run_in_executor(None, server.stop)
            return await asyncio.wait_for(ws.receive(), GUARD_S)

    closing = asyncio.run(run())
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert not server._thread.is_alive()


def test_a_flood_of_messages_is_refused_beyond_the_rate_limit(served):
    server, backend = served

    async def scenario(page):
        await page.reply({'action': 'auth', 'token': TOKEN})
        for _ in range(200):
            await page.ws.send_str('{"action": "rotate", "degrees": 1}')
        return await page.receive('refused')

    refusal = with_page(server, scenario)
    assert refusal['reason'] == 'too many messages: at most 50 per second'
    assert 0 < len(backend.actions) < 200


def test_the_page_preloads_every_module_it_imports_so_they_load_in_one_round_trip():
    web = Path(WEB_DIR)
    preloaded = set(re.findall(r'rel="modulepreload" href="/web/([a-z]+\.js)"',
                               (web / 'index.html').read_text()))
    imported = {name for js in web.glob('*.js')
                for name in re.findall(r"^import .* from './([a-z]+\.js)';$", js.read_text(),
                                       re.MULTILINE)}
    assert imported and preloaded == imported
