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

"""The operator page drives the machine node: real processes, real stream, a real browser.

The machine node (both synthetic cameras, composite streamed through its MediaMTX) and the
operator node (``machine_node:=machine``) run as processes; headless Chromium plays the
composite over WHEP and clicks the calibration steps on the video. The clicks must reach the
machine node's calibration services (its calibration file is the witness), and a target
clicked afterwards comes out on ``target_mm`` from that calibration.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import yaml

rclpy = pytest.importorskip(
    'rclpy', reason='rclpy is not installed: the operator/machine tests need a sourced ROS 2')
pytest.importorskip('std_srvs.srv', reason='needs std_srvs')
pytest.importorskip('aiohttp', reason='the operator node needs aiohttp')
pytest.importorskip('picam_ros.ros.machine_node', reason='needs the machine node')

from browser_viewer import LOOPBACK_ICE_ENV, playing_page  # noqa: E402, I100
from geometry_msgs.msg import PointStamped  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile  # noqa: E402
from stream_fixtures import free_server_ports, free_tcp_port, require_mediamtx  # noqa: E402

from picam_ros.sources.synthetic import SyntheticConfig  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.mediamtx, pytest.mark.browser]

GUARD_S = 40.0   # failure guard only, never a measurement
WIDTH, HEIGHT = 640, 480
ROOT = Path(__file__).parents[2]
TOKEN = 'calibration-test-token'
ARTIFACTS = os.environ.get('PICAM_TEST_ARTIFACTS', str(ROOT / 'build' / 'test-artifacts'))
os.environ.setdefault('ROS_DOMAIN_ID', str(os.getpid() % 100 + 100))


def ros_args(params: dict) -> list[str]:
    args = ['--ros-args']
    for name, value in params.items():
        shown = str(value).lower() if isinstance(value, bool) else value
        args += ['-p', f'{name}:={shown}']
    return args


class Processes:
    """The machine and operator node processes, stopped with SIGINT (then killed)."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []

    def start(self, module: str, params: dict, env: dict) -> subprocess.Popen:
        env = {**os.environ, **env, 'PYTHONPATH': os.pathsep.join(
            [os.environ.get('PYTHONPATH', ''), str(ROOT)])}
        process = subprocess.Popen([sys.executable, '-m', module, *ros_args(params)], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.started.append(process)
        return process

    def stop(self) -> list[str]:
        outputs = []
        for process in reversed(self.started):
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            outputs.append(process.stdout.read())
        return outputs


@pytest.fixture
def machine_and_operator(tmp_path):
    mediamtx = require_mediamtx()
    calibration = tmp_path / 'machine_calibration.yaml'   # written by the first step
    token_file = tmp_path / 'token'
    token_file.write_text(TOKEN + '\n')
    ports = free_server_ports()
    port = free_tcp_port()
    processes = Processes()
    processes.start('picam_ros.ros.machine_node', {
        'board.width': WIDTH, 'board.height': HEIGHT, 'component.width': WIDTH,
        'component.height': HEIGHT, 'board.fps': 15.0, 'component.fps': 15.0,
        'centroid_rate_hz': 5.0, 'calibration_file': str(calibration),
        'stream.enabled': True, 'stream.mediamtx_path': mediamtx,
        **{f'stream.{name}': value for name, value in ports.items()}}, LOOPBACK_ICE_ENV)
    processes.start('picam_ros.operator_page.operator_node', {
        'machine_node': 'machine', 'port': port, 'token_file': str(token_file),
        'whep_url': f'http://{{host}}:{ports["webrtc_port"]}/composite/whep'}, {})
    rclpy.init()
    probe = rclpy.create_node('operator_machine_probe')
    targets: dict[str, list] = {'target': [], 'target_mm': []}
    latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    for topic, received in targets.items():
        # Latched as the node publishes them: the target arrives even when discovery of this
        # probe completes after the click (seen: the page's publisher matched it only later).
        probe.create_subscription(PointStamped, topic, received.append, latched)
    executor = SingleThreadedExecutor()
    executor.add_node(probe)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        assert wait_for(lambda: serving(port) or processes.started[-1].poll() is not None)
        yield f'http://127.0.0.1:{port}/#token={TOKEN}', calibration, targets, processes
    finally:
        executor.shutdown(timeout_sec=5.0)
        probe.destroy_node()
        rclpy.try_shutdown()
        spinner.join(5.0)
        outputs = processes.stop()
        assert [p.returncode for p in processes.started] == [0, 0], '\n'.join(outputs)
        # The machine node says where a browser watches its composite (as the camera node).
        assert f'live view: http://{socket.gethostname()}:{ports["webrtc_port"]}/composite' \
            in outputs[1], outputs[1]


def click_frame_pixel(page, x: float, y: float) -> None:
    """Click the centre of frame pixel (x, y) of the video as displayed (letterboxed)."""
    left, top, width, height = page.evaluate("""() => { const v = document.getElementById('video');
        const r = v.getBoundingClientRect();
        return [r.left, r.top, v.clientWidth, v.clientHeight]; }""")
    scale = min(width / WIDTH, height / HEIGHT)
    page.mouse.click(left + (width - WIDTH * scale) / 2 + (x + 0.5) * scale,
                     top + (height - HEIGHT * scale) / 2 + (y + 0.5) * scale)


def step_answer(page, step: str) -> str:
    """Wait for the answer of a calibration step on the page, and return it."""
    selector = f'.calib[data-step="{step}"] .reason'
    page.wait_for_function(
        f"""() => {{ const t = document.querySelector('{selector}').textContent;
            return t.startsWith('done') || (t && !t.startsWith('sent') &&
                                             !t.startsWith('click') &&
                                             !t.startsWith('first point') &&
                                             !t.startsWith('finding')); }}""",
        timeout=GUARD_S * 1000)
    return page.inner_text(selector)


def serving(port: int) -> bool:
    try:
        socket.create_connection(('127.0.0.1', port), timeout=1.0).close()
    except OSError:
        return False
    return True


def only_profile(page, profile: str) -> None:
    """Wait until the overlay draws circles, all of ``profile``."""
    page.wait_for_function(
        f"""() => {{ const c = window.picamOperator.overlay.drawn.circles;
            return c.length > 0 && c.every((circle) => circle.profile === '{profile}'); }}""",
        timeout=GUARD_S * 1000)


def wait_for(condition, guard: float = GUARD_S) -> bool:
    deadline = time.monotonic() + guard
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)   # polling what the executor thread fills in
    return condition()


def test_calibration_clicks_on_the_page_reach_the_machine_nodes_services(machine_and_operator):
    url, calibration, targets, _ = machine_and_operator
    nozzle, datum, target = (200.0, 150.0), (400.0, 300.0), (300.0, 100.0)
    scale_points = ((100.0, 100.0), (500.0, 100.0))   # 400 px apart
    with playing_page(url, (1280, 900)) as page:
        page.wait_for_function(
            'window.picamOperator && window.picamOperator.authorised && '
            'window.picamOperator.lastFrameAt > 0 && '
            "!document.querySelector('#calibration button[data-step=nozzle]').disabled",
            timeout=GUARD_S * 1000)
        assert page.evaluate('window.picamOperator.frameSize') == [WIDTH, HEIGHT]

        # Step 1: the nozzle centre, clicked in ONLYUP (the button switches the mode).
        page.click('#calibration button[data-step="nozzle"]')
        page.wait_for_function("window.picamOperator.mode === 'ONLYUP'",
                               timeout=GUARD_S * 1000)
        only_profile(page, 'leads')   # ONLYUP shows the up camera: only its leads drawn
        click_frame_pixel(page, *nozzle)
        nozzle_answer = step_answer(page, 'nozzle')
        up = yaml.safe_load(calibration.read_text())['up']

        # Auto-find: the machine looks for the nozzle itself.
        page.click('#calibration button[data-step="find_nozzle"]')
        found_answer = step_answer(page, 'find_nozzle')
        found = yaml.safe_load(calibration.read_text())['up']

        # Step 2: the reference mark, clicked in ONLYDOWN.
        page.click('#calibration button[data-step="reference"]')
        page.wait_for_function("window.picamOperator.mode === 'ONLYDOWN'",
                               timeout=GUARD_S * 1000)
        only_profile(page, 'pads')
        click_frame_pixel(page, *datum)
        datum_answer = step_answer(page, 'reference')

        # Step 3: the down camera's scale, two points 10 mm apart.
        page.fill('#scale-distance', '10')
        page.select_option('#scale-camera', 'down')
        page.click('#calibration button[data-step="scale"]')
        click_frame_pixel(page, *scale_points[0])
        click_frame_pixel(page, *scale_points[1])
        scale_answer = step_answer(page, 'scale')
        down = yaml.safe_load(calibration.read_text())['down']

        # A target clicked now is also published in mm relative to the nozzle.
        click_frame_pixel(page, *target)
        page.wait_for_function('window.picamOperator.pending.size === 0',
                               timeout=GUARD_S * 1000)
        shown_target = page.inner_text('#target')
        os.makedirs(ARTIFACTS, exist_ok=True)
        page.screenshot(path=os.path.join(ARTIFACTS, 'operator_page_machine.png'))
    print(f'page answers: {nozzle_answer!r}; {found_answer!r}; {datum_answer!r}; '
          f'{scale_answer!r}')
    # A click lands within a pixel of the frame pixel aimed at (the page maps it through the
    # letterboxed video; the browser rounds the mouse position to whole CSS pixels).
    assert nozzle_answer.startswith('done: nozzle centre at (19'), nozzle_answer
    assert (up['nozzle_x'], up['nozzle_y']) == pytest.approx(nozzle, abs=1.0)
    assert found_answer.startswith('done: nozzle found at (') and 'roundness' in found_answer
    truth = SyntheticConfig(width=WIDTH, height=HEIGHT, scene='part').nozzle
    assert (found['nozzle_x'], found['nozzle_y']) == pytest.approx(truth, abs=1.0)
    assert datum_answer.startswith('done: reference mark at ('), datum_answer
    assert (down['nozzle_x'], down['nozzle_y']) == pytest.approx(datum, abs=1.0)
    assert scale_answer.startswith('done: down camera: '), scale_answer
    assert down['mm_per_pixel'] == pytest.approx(10.0 / 400.0, rel=2 / 400)   # +-1 px a click
    assert wait_for(lambda: targets['target'] and targets['target_mm']), (
        f"received {len(targets['target'])} target, {len(targets['target_mm'])} target_mm; "
        f'the page shows the target as {shown_target!r}')
    pixel, mm = targets['target'][-1], targets['target_mm'][-1]
    assert mm.header.frame_id == 'nozzle' and mm.header.stamp == pixel.header.stamp
    assert mm.point.x == pytest.approx((pixel.point.x - down['nozzle_x'])
                                       * down['mm_per_pixel'], abs=1e-6)
    assert mm.point.y == pytest.approx((pixel.point.y - down['nozzle_y'])
                                       * down['mm_per_pixel'], abs=1e-6)


def test_on_the_machine_the_overlay_is_locked_to_the_frame_frozen_holds_it_and_align_reports(
        machine_and_operator):
    url, _, _, _ = machine_and_operator
    log = 'window.picamOperator.syncLog.filter(e => e.frame !== null && !e.late)'
    with playing_page(url, (1280, 900)) as page:
        # Frames whose own pads set is drawn (the machine measures 5 of its 15 fps), when the
        # frame is presented or, on a starved CPU, when the set arrives while it is shown.
        page.wait_for_function(
            'window.picamOperator.authorised && window.picamOperator.syncLog.filter('
            'e => e.frame !== null && (e.late ? e.sets.includes(e.frame)'
            ' : e.byProfile.pads === e.frame)).length >= 5', timeout=GUARD_S * 1000)
        page.wait_for_function("document.getElementById('st-latency').textContent !== '-'",
                               timeout=GUARD_S * 1000)
        live = page.evaluate(log)
        latency = page.text_content('#st-latency')
        os.makedirs(ARTIFACTS, exist_ok=True)

        page.click('#align')
        panel = page.locator('#alignment')
        page.wait_for_function("document.getElementById('align').textContent === 'Align'"
                               " && document.querySelector('#alignment .verdict')"
                               ".textContent !== '\u2014'", timeout=GUARD_S * 1000)
        verdict = panel.locator('.verdict').text_content()
        rows = panel.locator('tr').all_text_contents()
        page.screenshot(path=os.path.join(ARTIFACTS, 'operator', 'machine_align.png'))

        page.click('#modes button[data-mode="FROZEN"]')
        page.wait_for_function("document.getElementById('state').textContent"
                               ".startsWith('FROZEN')", timeout=GUARD_S * 1000)
        # Frames encoded before the switch may still arrive: the last 20 of 25 count.
        frozen_at = page.evaluate(f'{log}.length')
        page.wait_for_function(f'{log}.length >= {frozen_at} + 25', timeout=GUARD_S * 1000)
        frozen = page.evaluate(f'{log}.slice(-20)')
        page.screenshot(path=os.path.join(ARTIFACTS, 'operator', 'machine_frozen.png'))
        page.click('#modes button[data-mode="NORMAL"]')
        page.wait_for_function("window.picamOperator.mode === 'NORMAL'",
                               timeout=GUARD_S * 1000)
    exact = [e for e in live if e['byProfile'].get('pads') == e['frame']]
    ages = sorted(e['frame'] - e['byProfile']['pads'] for e in live if 'pads' in e['byProfile'])
    print(f'{len(live)} frames: {len(exact)} drawn with their own pads set, the rest with the '
          f'set of an earlier frame ({ages[len(ages) // 2]} frames earlier at the median, '
          f'{ages[-1]} at most); status bar capture->display {latency} ms; align: {verdict} '
          f'{rows}; FROZEN: {len(frozen)} frames, numbers {sorted({e["frame"] for e in frozen})}')
    assert ages[0] >= 0, 'a set from a later frame was drawn'
    assert 0 <= float(latency) < 1000
    assert rows and (verdict in ('PASS', 'FAIL', 'AMBIGUOUS', 'no verdict')), (verdict, rows)
    # FROZEN: the composite holds one frame, and the overlay holds that frame's markers.
    assert len({e['frame'] for e in frozen}) == 1
    assert len({e['byProfile'].get('pads') for e in frozen}) == 1
    # ... and its latency is that of its first showing, not growing while it is held.
    assert len({e['latencyMs'] for e in frozen}) == 1


def test_after_align_the_page_draws_each_matched_leads_residual_to_its_pad_by_the_verdict(
        machine_and_operator):
    url, _, _, _ = machine_and_operator
    with playing_page(url, (1280, 900)) as page:
        page.wait_for_function(
            'window.picamOperator && window.picamOperator.authorised && '
            "window.picamOperator.lastFrameAt > 0 && !document.getElementById('align')"
            '.disabled && window.picamOperator.overlay.drawn.circles'
            ".some((c) => c.profile === 'pads')", timeout=GUARD_S * 1000)
        # A press the machine cannot answer (no settled frame pair within fresh.timeout on
        # a starved CPU) says so on the page; the operator presses again, and so does this.
        errors, deadline = [], time.monotonic() + GUARD_S
        while True:
            page.click('#align')
            page.wait_for_function(
                "document.getElementById('align').textContent === 'Align'"
                " && window.picamOperator.alignment.result?.source === 'Align'",
                timeout=GUARD_S * 1000)
            error = page.evaluate('window.picamOperator.alignment.result.error')
            if not error or time.monotonic() > deadline:
                break
            errors.append(error)
            page.evaluate('window.picamOperator.alignment.result = null')
        values = page.evaluate('window.picamOperator.alignment.result.values')
        verdict = page.text_content('#alignment .verdict')
        legend = page.text_content('#alignment .residual-legend')
        drawn = page.evaluate('window.picamOperator.overlay.drawn')
        scale = page.evaluate('window.picamOperator.alignment.residuals().pxPerUm')
        os.makedirs(os.path.join(ARTIFACTS, 'operator'), exist_ok=True)
        page.screenshot(path=os.path.join(ARTIFACTS, 'operator', 'machine_residuals.png'))
    lines, pads = drawn['residuals'], [c for c in drawn['circles'] if c['profile'] == 'pads']
    assert not error, (error, errors)
    print(f'{verdict}: {len(lines)} residual lines, {scale} px per um, worst '
          f"{max(line['residualUm'] for line in lines):.2f} um; legend {legend!r}; presses "
          f'refused before: {errors}')
    assert verdict == values['verdict'] and verdict in ('PASS', 'FAIL', 'AMBIGUOUS')
    # One line per matched lead, each ending on a pad the page draws from the board's
    # centroids (the synthetic board is still: its pads move by noise only).
    assert len(lines) == values['matched'] > 0
    for line in lines:
        assert min(math.hypot(line['x'] - c['x'], line['y'] - c['y']) for c in pads) < 0.1
    # The lines are the verdict's residuals: their largest and RMS are the verdict's numbers,
    # drawn at the stated scale, green within its tolerance and not beyond.
    sizes = [line['residualUm'] for line in lines]
    assert max(sizes) == pytest.approx(values['max_residual_um'], abs=0.02)
    assert math.sqrt(sum(s * s for s in sizes) / len(sizes)) == pytest.approx(
        values['rms_um'], abs=0.02)
    for line in lines:
        length = math.hypot(line['px'] - line['lx'], line['py'] - line['ly'])
        assert length == pytest.approx(scale * line['residualUm'], abs=1e-6)
        assert line['pass'] == (line['residualUm'] <= values['max_residual_limit_um'])
    assert f'1 \u00b5m = {scale:g} screen px' in legend
    assert scale * values['max_residual_limit_um'] >= 20   # the tolerance is plainly visible
