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

"""The operator page in a real headless Chromium (Debian's, driven by Playwright).

The page plays a VP8 recording of the synthetic board made by ffmpeg for the test, served by
the operator server itself; the centroid sets it draws come from the real centroid engine on
the same frames, pushed with their sequence numbers. Ground truth is the synthetic scene's.
A screenshot of the page is written to build/test-artifacts/operator_page.png (gitignored).
"""

import itertools
import os
import re
import shutil
import socket
import subprocess

from browser_viewer import CHROMIUM_FLAGS, require_browser
import numpy as np
import pytest

aiohttp = pytest.importorskip('aiohttp', reason='the operator page needs aiohttp')
sync_api = pytest.importorskip('playwright.sync_api',
                               reason='the browser tests need Playwright (pip install playwright)')
cv2 = pytest.importorskip('cv2', reason='the screenshot is read with OpenCV')

from picam_ros.centroids.engine import find_centroids_in_frame, KeyingParams  # noqa: E402, I100
from picam_ros.operator_page.protocol import (  # noqa: E402
    Align,
    CalibrationClick,
    CalibrationScale,
    ParameterSpec,
    Rotate,
    SelectTarget,
    SetMode,
    SetParameter,
)
from picam_ros.operator_page.server import (  # noqa: E402
    CentroidSet,
    OperatorConfig,
    OperatorServer,
    Outcome,
)
from picam_ros.sources.synthetic import (  # noqa: E402
    decode_sequence,
    SyntheticConfig,
    SyntheticSource,
)

if shutil.which('ffmpeg') is None:
    pytest.skip('ffmpeg is needed to make the test video', allow_module_level=True)

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [*CHROMIUM_FLAGS, '--autoplay-policy=no-user-gesture-required']
WIDTH, HEIGHT, FRAMES, FPS = 640, 480, 48, 25
TOKEN = 'operator-test-token'
GUARD_MS = 15000   # failure guard only, never a measurement
ARTIFACTS = os.environ.get('PICAM_TEST_ARTIFACTS', os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'build', 'test-artifacts'))
PARAMETERS = [ParameterSpec('pads.luma_min', 'integer', 0, 255, value=150),
              ParameterSpec('pads.luma_max', 'integer', 0, 255, value=255)]


#: What the Align button gets back (the operator node's keys, as bridge.alignment_values gives).
ALIGNMENT = {'verdict': 'PASS', 'dx_mm': 0.0123, 'dy_mm': -0.0045, 'theta_deg': 0.21,
             'rms_um': 6.4, 'max_residual_um': 11.2, 'matched': 8, 'expected': 8}


class RecordingBackend:
    """Records what reaches it; refuses as the centroid node would (luma_min > luma_max)."""

    def __init__(self):
        self.actions = []

    def handle(self, action):
        if isinstance(action, SetParameter) and action.name == 'pads.luma_min' \
                and action.value > 255 - 55:
            return Outcome(False, f'luma_min: {action.value} is greater than luma_max 200')
        if isinstance(action, CalibrationClick) and action.step == 'reference':
            return Outcome(False, 'calibration/set_datum: no board frame yet')
        self.actions.append(action)
        if isinstance(action, Align):
            return Outcome(True, detail={'alignment': ALIGNMENT})
        if isinstance(action, CalibrationClick):     # as the machine node answers
            return Outcome(True, detail={'answer': {'nozzle_x': action.x, 'nozzle_y': action.y,
                                                    'saved': True}})
        if isinstance(action, CalibrationScale):
            x1, y1, x2, y2 = action.points
            return Outcome(True, detail={'answer': {
                'camera': action.camera, 'saved': True,
                'mm_per_pixel': action.distance_mm / float(np.hypot(x2 - x1, y2 - y1))}})
        return Outcome(True)

    def of(self, kind):
        return [action for action in self.actions if isinstance(action, kind)]


@pytest.fixture(scope='module')
def scene(tmp_path_factory):
    """Record frames 0..FRAMES-1; return it with each frame's engine centroids and truth."""
    media = tmp_path_factory.mktemp('media')
    source = SyntheticSource(SyntheticConfig(width=WIDTH, height=HEIGHT, paced=False))
    encoder = subprocess.Popen(
        ['ffmpeg', '-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'yuv420p',
         '-s', f'{WIDTH}x{HEIGHT}', '-r', str(FPS), '-i', 'pipe:0', '-c:v', 'libvpx',
         '-b:v', '8M', '-qmin', '1', '-qmax', '8', '-g', '12', str(media / 'board.webm')],
        stdin=subprocess.PIPE)
    sets, truth = {}, {}
    for seq in range(FRAMES):
        frame = source.render(seq)
        encoder.stdin.write(frame.to_i420().tobytes())
        result = find_centroids_in_frame(frame, KeyingParams())
        sets[seq] = CentroidSet('pads', seq, 1_000_000_000 * seq, WIDTH, HEIGHT, result.blobs)
        truth[seq] = source.ground_truth(seq)
    encoder.stdin.close()
    assert encoder.wait(60) == 0
    return media, sets, truth


@pytest.fixture(scope='module')
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=require_browser(),
                                              headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def operator(scene):
    media, sets, _ = scene
    backend = RecordingBackend()
    server = OperatorServer(
        OperatorConfig(port=0, token=TOKEN, video_url='/media/board.webm',
                       media_dir=str(media), history=FRAMES),
        backend, PARAMETERS, features={'modes': True, 'calibration': True, 'align': True})
    server.start()
    for seq in range(FRAMES):
        server.publish_centroids(sets[seq])
    yield server, backend
    server.stop()


def open_page(browser, server, token=True):
    page = browser.new_page(viewport={'width': 1280, 'height': 720})
    page.goto(server.url(with_token=token))
    page.wait_for_function('window.picamOperator && window.picamOperator.ready',
                           timeout=GUARD_MS)
    if token:
        page.wait_for_function('window.picamOperator.authorised', timeout=GUARD_MS)
    return page


def pause_on_a_frame(page, seq=10, with_centroids=True):
    """Pause the video and seek to frame ``seq``; wait until the overlay shows that frame.

    A seek makes the frame on screen definite (a plain pause can still present one more).
    ``with_centroids`` also waits for that frame's circles (off when none were published).
    """
    circles = '&& p.overlay.drawn.circles.length > 0' if with_centroids else ''
    page.evaluate(f"""() => {{ const video = window.picamOperator.video;
                               video.pause(); video.currentTime = ({seq} + 0.5) / {FPS}; }}""")
    page.wait_for_function(
        f"""() => {{ const p = window.picamOperator;
                    return p.video.paused && !p.video.seeking && p.frameSeq === {seq}
                           && p.overlay.drawn.seq === {seq} {circles}; }}""", timeout=GUARD_MS)
    return seq


def displayed(page, xs, ys):
    """Page coordinates of frame pixels, from the video element's box (object-fit: contain)."""
    # The stage's box: the video's own is transformed when zoomed (view.js).
    box = page.evaluate("""() => { const v = document.getElementById('video');
                                   const r = document.getElementById('stage')
                                       .getBoundingClientRect();
                                   return [r.left, r.top, v.clientWidth, v.clientHeight]; }""")
    left, top, width, height = box
    scale = min(width / WIDTH, height / HEIGHT)
    x0 = left + (width - WIDTH * scale) / 2
    y0 = top + (height - HEIGHT * scale) / 2
    return x0 + (np.asarray(xs) + 0.5) * scale, y0 + (np.asarray(ys) + 0.5) * scale


def drawn_circles(page):
    circles = page.evaluate('window.picamOperator.overlay.drawn.circles')
    offset = page.evaluate("""() => { const r = document.getElementById('overlay')
                                          .getBoundingClientRect(); return [r.left, r.top]; }""")
    return circles, offset


def save_screenshot(page, name):
    """Save the page as ``<ARTIFACTS>/operator/<name>.png`` (gitignored), for people to look at."""
    folder = os.path.join(ARTIFACTS, 'operator')
    os.makedirs(folder, exist_ok=True)
    page.screenshot(path=os.path.join(folder, f'{name}.png'))


def hud_pick(points, start, direction):
    """Apply the original HUD's rule: the nearest point within 45 degrees of ``direction``."""
    dx, dy = {'ArrowRight': (1, 0), 'ArrowLeft': (-1, 0), 'ArrowUp': (0, -1),
              'ArrowDown': (0, 1)}[direction]
    best, best_distance = None, np.inf
    for x, y in points:
        vx, vy = x - start[0], y - start[1]
        angle = np.degrees(np.arctan2(vx * dy - vy * dx, vx * dx + vy * dy))
        distance = np.hypot(vx, vy)
        if distance > 0 and abs(angle) <= 45 and distance < best_distance:
            best, best_distance = (x, y), distance
    return best


def test_the_page_plays_and_every_overlay_is_the_set_of_the_frame_shown(browser, operator):
    server, _ = operator
    page = open_page(browser, server, token=False)
    page.wait_for_function('window.picamOperator.syncLog.length >= 60', timeout=GUARD_MS)
    log = page.evaluate('window.picamOperator.syncLog')
    ready_ms = page.evaluate('window.picamOperator.readyAt')
    print(f'page interactive (first frame drawn) {ready_ms:.0f} ms after navigation start')
    frames = [entry for entry in log if entry['frame'] is not None]
    assert len(frames) >= 0.9 * len(log), 'the sequence stamp was unreadable on most frames'
    assert len({entry['frame'] for entry in frames}) > 10, 'the video did not advance'
    assert all(entry['sets'] == [entry['frame']] for entry in frames), \
        [entry for entry in frames if entry['sets'] != [entry['frame']]][:5]
    page.wait_for_function("document.getElementById('st-seq').textContent !== '-'",
                           timeout=GUARD_MS)
    assert int(page.text_content('#st-fps')) > 0
    assert int(page.text_content('#st-blobs')) > 10
    assert page.text_content('#st-stream') == 'file'
    page.close()


def test_overlay_circles_sit_on_the_ground_truth_within_one_pixel(browser, operator, scene):
    server, _ = operator
    _, _, truth = scene
    page = open_page(browser, server)
    seq = pause_on_a_frame(page)
    os.makedirs(ARTIFACTS, exist_ok=True)
    shot_path = os.path.join(ARTIFACTS, 'operator_page.png')
    page.screenshot(path=shot_path)
    shot = cv2.imread(shot_path, cv2.IMREAD_GRAYSCALE)
    circles, (ox, oy) = drawn_circles(page)
    blobs = truth[seq][~truth[seq]['clipped']]
    expected_x, expected_y = displayed(page, blobs['x'], blobs['y'])
    drawn = np.array([(c['cx'] + ox, c['cy'] + oy) for c in circles])
    errors = [np.min(np.hypot(drawn[:, 0] - ex, drawn[:, 1] - ey))
              for ex, ey in zip(expected_x, expected_y)]
    print(f'frame {seq}: {len(blobs)} pads, worst overlay error {max(errors):.3f} px')
    assert len(circles) >= len(blobs) > 10
    assert max(errors) <= 1.0
    # The video itself is where that geometry says: the screenshot is bright at the centres
    # of the large pads, and its sequence strip (scaled back) carries the frame's number.
    large = blobs['area'] >= 40
    cx, cy = displayed(page, blobs['x'][large], blobs['y'][large])
    bright = shot[np.rint(cy).astype(int), np.rint(cx).astype(int)] > 150
    assert bright.mean() >= 0.9, bright.mean()
    vx, vy = displayed(page, [-0.5, WIDTH - 0.5], [-0.5, HEIGHT - 0.5])
    top, bottom, left, right = (round(float(v)) for v in (vy[0], vy[1], vx[0], vx[1]))
    video = shot[top:bottom, left:right]
    assert decode_sequence(cv2.resize(video, (WIDTH, HEIGHT),
                                      interpolation=cv2.INTER_AREA)) == seq
    page.close()


def test_a_click_on_a_centroid_selects_it_as_the_target(browser, operator, scene):
    server, backend = operator
    _, sets, _ = scene
    page = open_page(browser, server)
    seq = pause_on_a_frame(page)
    blob = sets[seq].blobs[3]
    x, y = displayed(page, [blob['x']], [blob['y']])
    page.mouse.click(float(x[0]) + 1.0, float(y[0]) - 1.0)
    page.wait_for_function('window.picamOperator.pending.size === 0', timeout=GUARD_MS)
    targets = [a for a in backend.actions if isinstance(a, SelectTarget)]
    assert len(targets) == 1
    assert targets[0].x == pytest.approx(blob['x'], abs=1e-3)
    assert targets[0].y == pytest.approx(blob['y'], abs=1e-3)
    assert (targets[0].profile, targets[0].seq) == ('pads', seq)
    page.close()


@pytest.mark.parametrize('key', ['ArrowRight', 'ArrowLeft', 'ArrowUp', 'ArrowDown'])
def test_arrow_keys_select_the_neighbour_the_hud_rule_picks(browser, operator, scene, key):
    server, backend = operator
    _, sets, _ = scene
    page = open_page(browser, server)
    seq = pause_on_a_frame(page)
    points = [(float(b['x']), float(b['y'])) for b in sets[seq].blobs]
    start = min(points, key=lambda p: np.hypot(p[0] - WIDTH / 2, p[1] - HEIGHT / 2))
    x, y = displayed(page, [start[0]], [start[1]])
    page.mouse.click(float(x[0]), float(y[0]))
    page.keyboard.press(key)
    page.wait_for_function('window.picamOperator.pending.size === 0', timeout=GUARD_MS)
    targets = [a for a in backend.actions if isinstance(a, SelectTarget)]
    expected = hud_pick(points, start, key)
    assert expected is not None
    assert len(targets) == 2
    assert (targets[1].x, targets[1].y) == pytest.approx(expected, abs=1e-3)
    page.close()


def test_shift_arrow_steps_and_brackets_rotate(browser, operator, scene):
    server, backend = operator
    page = open_page(browser, server)
    pause_on_a_frame(page)
    x, y = displayed(page, [100.0], [200.0])
    page.mouse.click(float(x[0]), float(y[0]))   # between pads: a raw pixel target
    page.keyboard.press('Shift+ArrowRight')
    page.keyboard.press('BracketRight')
    page.keyboard.press('Shift+BracketLeft')
    page.wait_for_function('window.picamOperator.pending.size === 0', timeout=GUARD_MS)
    targets = [a for a in backend.actions if isinstance(a, SelectTarget)]
    assert targets[1].x == pytest.approx(targets[0].x + 10, abs=1e-6)
    assert targets[1].y == pytest.approx(targets[0].y, abs=1e-6)
    assert [a.degrees for a in backend.actions if isinstance(a, Rotate)] == [1.0, -10.0]
    page.close()


def test_a_slider_change_reaches_the_backend_and_a_refusal_is_shown(browser, operator):
    server, backend = operator
    page = open_page(browser, server)
    number = page.locator('.param[data-name="pads.luma_min"] input.value')
    reason = page.locator('.param[data-name="pads.luma_min"] .reason')
    number.fill('170')
    number.dispatch_event('change')
    page.wait_for_function('window.picamOperator.pending.size === 0', timeout=GUARD_MS)
    assert [a for a in backend.actions if isinstance(a, SetParameter)] == [
        SetParameter('pads.luma_min', 170, id=backend.actions[-1].id)]
    number.fill('300')                     # out of the advertised range: refused by the core
    number.dispatch_event('change')
    sync_api.expect(reason).to_have_text('set_parameter: pads.luma_min: 300 is above the '
                                         'maximum 255', timeout=GUARD_MS)
    assert number.input_value() == '170'
    number.fill('230')                     # in range, refused by the node: its reason
    number.dispatch_event('change')
    sync_api.expect(reason).to_have_text('luma_min: 230 is greater than luma_max 200',
                                         timeout=GUARD_MS)
    assert len([a for a in backend.actions if isinstance(a, SetParameter)]) == 1
    page.close()


def test_modes_and_calibration_clicks_reach_the_backend(browser, operator):
    server, backend = operator
    page = open_page(browser, server)
    pause_on_a_frame(page)
    page.click('#modes button[data-mode="ONLYDOWN"]')
    page.click('#calibration button[data-step="nozzle"]')
    x, y = displayed(page, [320.0], [240.0])
    page.mouse.click(float(x[0]), float(y[0]))
    page.wait_for_function('window.picamOperator.pending.size === 0', timeout=GUARD_MS)
    modes = [a.mode for a in backend.actions if isinstance(a, SetMode)]
    clicks = [a for a in backend.actions if isinstance(a, CalibrationClick)]
    assert modes == ['ONLYDOWN', 'ONLYUP']
    assert len(clicks) == 1 and clicks[0].step == 'nozzle'
    assert (clicks[0].x, clicks[0].y) == pytest.approx((320.0, 240.0), abs=0.6)
    page.close()


def test_the_scale_step_sends_two_clicked_points_and_the_distance(browser, operator):
    server, backend = operator
    page = open_page(browser, server)
    pause_on_a_frame(page)
    page.select_option('#scale-camera', 'up')
    page.fill('#scale-distance', '2.54')
    page.click('#calibration button[data-step="scale"]')
    for fx, fy in ((100.0, 120.0), (500.0, 360.0)):
        x, y = displayed(page, [fx], [fy])
        page.mouse.click(float(x[0]), float(y[0]))
    page.wait_for_function('window.picamOperator.pending.size === 0', timeout=GUARD_MS)
    modes = [a.mode for a in backend.actions if isinstance(a, SetMode)]
    scales = [a for a in backend.actions if isinstance(a, CalibrationScale)]
    assert modes == ['ONLYUP']   # the up camera's view alone
    assert len(scales) == 1 and (scales[0].camera, scales[0].distance_mm) == ('up', 2.54)
    # Within a frame pixel: the browser rounds the mouse to whole CSS pixels of a scaled video.
    assert scales[0].points == pytest.approx((100.0, 120.0, 500.0, 360.0), abs=1.0)
    assert not [a for a in backend.actions if isinstance(a, SelectTarget)]   # clicks were taken
    page.close()


def test_without_the_token_every_control_is_disabled_and_says_why(browser, operator, scene):
    server, backend = operator
    _, sets, _ = scene
    page = open_page(browser, server, token=False)
    seq = pause_on_a_frame(page)
    assert page.locator('#access').text_content() == 'view-only'
    reason = page.locator('#view-only')
    sync_api.expect(reason).to_be_visible()
    assert 'operator token' in reason.text_content()
    controls = page.locator('#modes button, #calibration button:not(.cancel), #calibration input, '
                            '#calibration select, .param input.value, #undo')
    assert controls.count() >= 10
    for index in range(controls.count()):
        sync_api.expect(controls.nth(index)).to_be_disabled()
    assert page.locator('.slider.disabled').count() == len(PARAMETERS)   # both 0..255
    save_screenshot(page, 'view_only')
    blob = sets[seq].blobs[0]
    x, y = displayed(page, [blob['x']], [blob['y']])
    page.mouse.click(float(x[0]), float(y[0]))
    page.keyboard.press('ArrowRight')
    page.keyboard.press('BracketRight')
    page.keyboard.press('Control+z')
    page.wait_for_function('window.picamOperator.refusals.length >= 4', timeout=GUARD_MS)
    refusals = page.evaluate('window.picamOperator.refusals')
    assert all('view-only' in r for r in refusals), refusals
    sync_api.expect(page.locator('#message')).to_contain_text('view-only')
    # Nothing refused was drawn or listed as a target.
    assert page.text_content('#target') == 'none'
    assert page.evaluate('window.picamOperator.target') is None
    assert backend.actions == [] and server.accepted == 0
    page.close()


def test_a_wrong_token_is_refused_and_the_right_one_clears_the_header(browser, operator):
    server, _ = operator
    page = open_page(browser, server, token=False)
    page.fill('#token-input', 'not-the-token')
    page.click('#token-form button')
    sync_api.expect(page.locator('#message')).to_contain_text('wrong token',
                                                              timeout=GUARD_MS)
    page.fill('#token-input', TOKEN)
    page.click('#token-form button')
    sync_api.expect(page.locator('#access')).to_have_text('operator', timeout=GUARD_MS)
    sync_api.expect(page.locator('#token-form')).to_be_hidden()
    sync_api.expect(page.locator('#view-only')).to_be_hidden()
    assert 'wrong token' not in page.text_content('#message')
    sync_api.expect(page.locator('#modes button[data-mode="FROZEN"]')).to_be_enabled()
    page.close()


def test_centroids_pushed_late_are_drawn_when_their_frame_is_on_screen(browser, scene):
    media, sets, _ = scene
    server = OperatorServer(
        OperatorConfig(port=0, token=TOKEN, video_url='/media/board.webm',
                       media_dir=str(media), history=FRAMES), RecordingBackend())
    server.start()
    try:
        page = browser.new_page(viewport={'width': 1280, 'height': 720})
        page.goto(server.url())
        page.wait_for_function('window.picamOperator && window.picamOperator.frameSeq !== null',
                               timeout=GUARD_MS)
        seq = pause_on_a_frame(page, with_centroids=False)
        assert page.evaluate('window.picamOperator.overlay.drawn.circles.length') == 0
        server.publish_centroids(sets[(seq + 1) % FRAMES])   # another frame's set: not drawn
        server.publish_centroids(sets[seq])
        page.wait_for_function(f'window.picamOperator.overlay.drawn.circles.length === '
                               f'{len(sets[seq].blobs)}', timeout=GUARD_MS)
        assert page.evaluate('window.picamOperator.overlay.drawn.seq') == seq
        page.close()
    finally:
        server.stop()


def test_hovering_a_centroid_shows_its_area_and_orientation(browser, operator, scene):
    server, _ = operator
    _, sets, _ = scene
    page = open_page(browser, server, token=False)
    seq = pause_on_a_frame(page)
    blob = sets[seq].blobs[1]
    x, y = displayed(page, [blob['x']], [blob['y']])
    page.mouse.move(float(x[0]), float(y[0]))
    tip = page.locator('#tooltip')
    sync_api.expect(tip).to_be_visible(timeout=GUARD_MS)
    angle = round(float(np.degrees(blob['orientation'])), 2)
    assert tip.text_content() == (f"pads: ({blob['x']:.2f}, {blob['y']:.2f}) area "
                                  f"{blob['area']} px, orientation {angle:.1f}\u00b0")
    page.close()


PENDING_NONE = 'window.picamOperator.pending.size === 0'


def centre_point(sets, seq):
    points = [(float(b['x']), float(b['y'])) for b in sets[seq].blobs]
    return min(points, key=lambda p: np.hypot(p[0] - WIDTH / 2, p[1] - HEIGHT / 2))


def test_navigation_keys_act_whatever_has_focus_except_text_fields(browser, operator, scene):
    server, backend = operator
    _, sets, _ = scene
    page = open_page(browser, server)
    seq = pause_on_a_frame(page)
    x, y = displayed(page, *([v] for v in centre_point(sets, seq)))
    page.mouse.click(float(x[0]), float(y[0]))
    page.click('#modes button[data-mode="NORMAL"]')     # the trap of issue 21: focus on a button
    focused = ['#modes button[data-mode="NORMAL"]', '#align',
               '#calibration button[data-step="find_nozzle"]', '#stage', 'body']
    pressed = 0
    for selector in focused:
        page.evaluate(f"""() => {{ const e = document.querySelector('{selector}');
                                  if (e !== document.body) e.focus();
                                  else document.activeElement.blur(); }}""")
        # Each round ends where it started (a centroid with a neighbour on its right), so
        # every key has a target to go to: a missing one is a key lost to the focus.
        for key in ('ArrowRight', 'ArrowLeft', 'Shift+D', 'Shift+A', 'l', 'h'):
            page.keyboard.press(key)
            pressed += 1
        page.wait_for_function(PENDING_NONE, timeout=GUARD_MS)
        assert page.evaluate(f"document.activeElement === document.querySelector('{selector}')")
    # A pointer drag on a slider handle does not take the keys either.
    handle = page.locator('.param[data-name="pads.luma_max"] .slider-thumb')
    handle.scroll_into_view_if_needed()
    thumb = handle.bounding_box()
    page.mouse.move(thumb['x'] + 7, thumb['y'] + 7)
    page.mouse.down()
    page.mouse.up()
    page.keyboard.press('ArrowRight')
    pressed += 1
    page.wait_for_function(PENDING_NONE, timeout=GUARD_MS)
    targets = backend.of(SelectTarget)
    lost = 1 + pressed - len(targets)
    print(f'{pressed} navigation keys pressed with the focus on {len(focused)} controls and a '
          f'slider: {lost} lost')
    assert lost == 0
    assert backend.of(SetParameter) == [] and backend.of(Rotate) == []
    # In a text field the arrows are the field's: no target, the value is not stepped.
    field = page.locator('.param[data-name="pads.luma_min"] input.value')
    field.focus()
    page.keyboard.press('ArrowRight')
    page.keyboard.press('ArrowUp')
    page.locator('#stage').focus()
    page.keyboard.press('ArrowLeft')
    page.wait_for_function(PENDING_NONE, timeout=GUARD_MS)
    assert len(backend.of(SelectTarget)) == len(targets) + 1
    assert field.input_value() == '150' and backend.of(SetParameter) == []
    page.close()


def test_a_track_click_changes_nothing_and_a_drag_sets_the_value_once(browser, operator):
    server, backend = operator
    page = open_page(browser, server)
    pause_on_a_frame(page)
    row = page.locator('.param[data-name="pads.luma_min"]')
    row.scroll_into_view_if_needed()
    box = row.locator('.slider').bounding_box()
    middle = box['y'] + box['height'] / 2
    for fraction in (0.05, 0.3, 0.5, 0.8, 0.97):   # the handle sits at 150/255 = 0.59
        page.mouse.click(box['x'] + fraction * box['width'], middle)
    thumb = row.locator('.slider-thumb').bounding_box()
    page.mouse.click(thumb['x'] + 7, thumb['y'] + 7)    # a click on the handle: no drag
    page.keyboard.press('ArrowRight')                   # the keys still navigate
    page.wait_for_function(PENDING_NONE, timeout=GUARD_MS)
    assert backend.of(SetParameter) == [], backend.of(SetParameter)
    assert row.locator('input.value').input_value() == '150'
    save_screenshot(page, 'keying_after_track_clicks')
    page.mouse.move(thumb['x'] + 7, thumb['y'] + 7)
    page.mouse.down()
    for step in range(1, 6):
        page.mouse.move(thumb['x'] + 7 + 4 * step, thumb['y'] + 7)
    page.mouse.up()
    page.wait_for_function('window.picamOperator.pending.size === 0 && '
                           'window.picamOperator.parameters.done.length === 1',
                           timeout=GUARD_MS)
    changes = backend.of(SetParameter)
    assert len(changes) == 1 and changes[0].name == 'pads.luma_min'
    assert 150 < changes[0].value <= 200
    assert row.locator('input.value').input_value() == str(changes[0].value)
    page.close()


def test_undo_sets_the_previous_value_back_through_the_backend(browser, operator):
    server, backend = operator
    page = open_page(browser, server)
    field = page.locator('.param[data-name="pads.luma_min"] input.value')
    undo = page.locator('#undo')
    sync_api.expect(undo).to_be_disabled()
    field.fill('170')
    field.press('Enter')
    sync_api.expect(undo).to_have_text('undo pads.luma_min \u2192 150', timeout=GUARD_MS)
    page.locator('#stage').focus()    # in the text field Ctrl-Z is the field's own undo
    page.keyboard.press('Control+z')
    sync_api.expect(field).to_have_value('150', timeout=GUARD_MS)
    sync_api.expect(undo).to_be_disabled()
    assert [a.value for a in backend.of(SetParameter)] == [170, 150]
    field.fill('160')
    field.press('Enter')
    sync_api.expect(undo).to_be_enabled(timeout=GUARD_MS)
    save_screenshot(page, 'keying_undo')
    undo.click()
    sync_api.expect(field).to_have_value('150', timeout=GUARD_MS)
    assert [a.value for a in backend.of(SetParameter)] == [170, 150, 160, 150]
    page.close()


def test_a_target_is_shown_only_once_published(browser, scene):
    media, sets, _ = scene

    class Refusing(RecordingBackend):
        def handle(self, action):
            if isinstance(action, SelectTarget):
                return Outcome(False, 'no target: the controller is busy')
            return super().handle(action)

    server = OperatorServer(
        OperatorConfig(port=0, token=TOKEN, video_url='/media/board.webm',
                       media_dir=str(media), history=FRAMES), Refusing())
    server.start()
    try:
        for seq in range(FRAMES):
            server.publish_centroids(sets[seq])
        page = open_page(browser, server)
        seq = pause_on_a_frame(page)
        x, y = displayed(page, *([v] for v in centre_point(sets, seq)))
        page.mouse.click(float(x[0]), float(y[0]))
        sync_api.expect(page.locator('#message')).to_have_text(
            'no target: the controller is busy', timeout=GUARD_MS)
        assert page.text_content('#target') == 'none'
        assert page.evaluate('window.picamOperator.target') is None
        page.close()
    finally:
        server.stop()


def test_a_lost_stream_shows_the_markers_on_a_placeholder_and_says_why(browser, scene):
    _, sets, _ = scene
    closed = socket.socket()
    closed.bind(('127.0.0.1', 0))
    port = closed.getsockname()[1]
    closed.close()                     # nothing listens there: the stream server is down
    server = OperatorServer(
        OperatorConfig(port=0, token=TOKEN, whep_url=f'http://{{host}}:{port}/cam/whep',
                       history=FRAMES), RecordingBackend())
    server.start()
    try:
        server.publish_centroids(sets[5])
        page = browser.new_page(viewport={'width': 1280, 'height': 720})
        page.goto(server.url(with_token=True))
        placeholder = page.locator('#placeholder-text')
        sync_api.expect(placeholder).to_contain_text(
            f'No video: the stream server 127.0.0.1:{port} does not answer', timeout=GUARD_MS)
        sync_api.expect(page.locator('#state')).to_have_text('no video')
        page.wait_for_function(f'window.picamOperator.overlay.drawn.circles.length === '
                               f'{len(sets[5].blobs)}', timeout=GUARD_MS)
        save_screenshot(page, 'no_video')
        assert page.evaluate('window.picamOperator.overlay.drawn.geometry.scale') > 0
        page.close()
    finally:
        server.stop()


def test_the_favicon_is_served(browser, operator):
    server, _ = operator
    page = browser.new_page()
    for path in ('favicon.ico', 'favicon.svg'):
        response = page.request.get(server.url() + path)
        assert response.status == 200 and 'svg' in response.headers['content-type']
    page.close()


def test_frozen_holds_the_markers_with_the_frame_and_says_so(browser, operator, scene):
    server, _ = operator
    _, sets, _ = scene
    page = open_page(browser, server)
    seq = pause_on_a_frame(page)
    server.publish_status({'mode': 'FROZEN'})
    sync_api.expect(page.locator('#state')).to_have_text(
        f'FROZEN: video and markers held at frame {seq}', timeout=GUARD_MS)
    server.publish_centroids(sets[seq + 1])      # a newer set: not the frame on screen
    page.wait_for_function(f'window.picamOperator.history.get("pads").at(-1).seq === {seq + 1}',
                           timeout=GUARD_MS)
    assert page.evaluate('window.picamOperator.overlay.drawn.seq') == seq
    save_screenshot(page, 'frozen')
    page.close()


def test_decimated_sets_draw_the_newest_earlier_set_and_say_how_old(browser, scene):
    media, sets, _ = scene
    server = OperatorServer(
        OperatorConfig(port=0, token=TOKEN, video_url='/media/board.webm',
                       media_dir=str(media), history=FRAMES), RecordingBackend())
    server.start()
    try:
        for seq in range(0, FRAMES, 6):            # every 6th frame, as the machine's 2 Hz
            server.publish_centroids(sets[seq])
        page = open_page(browser, server)
        pause_on_a_frame(page, seq=10)
        sync_api.expect(page.locator('#st-markers')).to_have_text('frame 6 (4 earlier)',
                                                                  timeout=GUARD_MS)
        assert page.evaluate('[...window.picamOperator.shown.values()].map(s => s.seq)') == [6]
        page.close()
    finally:
        server.stop()


def test_align_shows_the_verdict_and_the_fit(browser, operator):
    server, backend = operator
    page = open_page(browser, server)
    panel = page.locator('#alignment')
    server.publish_status({'alignment': {'values': {'dx_mm': 0.05, 'dy_mm': -0.02,
                                                    'theta_deg': 1.5, 'rms_um': 12.0,
                                                    'matched': 6},
                                         'error': ''}})
    sync_api.expect(panel.locator('.verdict')).to_have_text('no verdict', timeout=GUARD_MS)
    sync_api.expect(panel.locator('tr[data-key="dx_mm"]')).to_contain_text('0.050 mm')
    page.click('#align')
    sync_api.expect(panel.locator('.verdict')).to_have_text('PASS', timeout=GUARD_MS)
    assert panel.locator('.verdict').get_attribute('data-verdict') == 'PASS'
    assert panel.locator('tr[data-key="rms_um"]').text_content() == 'residual RMS6.4 \u00b5m'
    assert panel.locator('tr[data-key="matched"]').text_content() == 'leads matched8 of 8'
    assert len(backend.of(Align)) == 1
    save_screenshot(page, 'align_pass')
    page.close()


def test_calibration_steps_show_their_state_can_be_cancelled_and_draw_their_checks(
        browser, operator):
    server, backend = operator
    page = open_page(browser, server)
    pause_on_a_frame(page)
    nozzle = page.locator('.calib[data-step="nozzle"]')
    nozzle.locator('button[data-step="nozzle"]').click()
    sync_api.expect(nozzle).to_have_attribute('data-state', 'armed')
    nozzle.locator('button.cancel').click()
    sync_api.expect(nozzle.locator('.reason')).to_have_text('cancelled: nothing was sent')
    reference = page.locator('.calib[data-step="reference"]')
    reference.locator('button[data-step="reference"]').click()
    sync_api.expect(reference).to_have_attribute('data-state', 'armed')
    page.keyboard.press('Escape')
    sync_api.expect(reference).to_have_attribute('data-state', 'todo')
    page.wait_for_function(PENDING_NONE, timeout=GUARD_MS)
    assert backend.of(CalibrationClick) == []

    nozzle.locator('button[data-step="nozzle"]').click()
    x, y = displayed(page, [200.0], [150.0])
    page.mouse.click(float(x[0]), float(y[0]))
    sync_api.expect(nozzle).to_have_attribute('data-state', 'done', timeout=GUARD_MS)
    done = re.fullmatch(r'done: nozzle centre at \(([\d.]+), ([\d.]+)\) px; saved',
                        nozzle.locator('.reason').text_content())
    assert done and (float(done[1]), float(done[2])) == pytest.approx((200, 150), abs=1.0)
    page.select_option('#scale-camera', 'up')
    page.fill('#scale-distance', '10')
    scale = page.locator('.calib[data-step="scale"]')
    scale.locator('button[data-step="scale"]').click()
    for fx, fy in ((100.0, 400.0), (500.0, 400.0)):
        x, y = displayed(page, [fx], [fy])
        page.mouse.click(float(x[0]), float(y[0]))
    sync_api.expect(scale).to_have_attribute('data-state', 'done', timeout=GUARD_MS)
    done = re.fullmatch(r'done: up camera: ([\d.]+) mm per pixel \([\d.]+ px per mm\); saved',
                        scale.locator('.reason').text_content())
    assert done and float(done[1]) == pytest.approx(10 / 400, rel=2 / 400)   # +-1 px a click
    marks = page.evaluate('window.picamOperator.overlay.drawn.marks')
    assert sorted(mark['kind'] for mark in marks) == ['circle', 'ruler']   # both in ONLYUP
    nozzle_mark = next(mark for mark in marks if mark['kind'] == 'circle')
    assert (nozzle_mark['x'], nozzle_mark['y']) == pytest.approx((200.0, 150.0), abs=1.0)
    save_screenshot(page, 'calibration_checks')

    reference.locator('button[data-step="reference"]').click()
    x, y = displayed(page, [320.0], [240.0])
    page.mouse.click(float(x[0]), float(y[0]))
    sync_api.expect(reference).to_have_attribute('data-state', 'failed', timeout=GUARD_MS)
    assert reference.locator('.reason').text_content() == (
        'failed: calibration/set_datum: no board frame yet')
    colours = page.evaluate("""() => ['nozzle', 'reference'].map((step) => getComputedStyle(
        document.querySelector(`.calib[data-step="${step}"] .reason`)).color)""")
    assert colours[0] != colours[1]       # success and failure look different
    save_screenshot(page, 'calibration_failed')
    page.close()


def zoomed_displayed(page, xs, ys):
    """Page coordinates of frame pixels under the page's zoom and pan (view.js)."""
    zoom, vx, vy = page.evaluate('(() => { const v = window.picamOperator.view; '
                                 'return [v.zoom, v.x, v.y]; })()')
    box = page.evaluate("""() => { const r = document.getElementById('stage')
                                       .getBoundingClientRect(); return [r.left, r.top]; }""")
    px, py = displayed(page, xs, ys)          # unzoomed, page coordinates
    return ((px - box[0]) * zoom + vx + box[0], (py - box[1]) * zoom + vy + box[1])


def test_wheel_zoom_keeps_markers_and_video_together_and_clicks_still_target(
        browser, operator, scene):
    server, backend = operator
    _, sets, truth = scene
    page = open_page(browser, server)
    seq = pause_on_a_frame(page)
    blobs = sets[seq].blobs
    large = blobs[blobs['area'] >= 40]        # bright at its centre in the screenshot
    anchor = large[np.argmin(np.hypot(large['x'] - WIDTH / 2, large['y'] - HEIGHT / 2))]
    ax, ay = displayed(page, [anchor['x']], [anchor['y']])
    page.mouse.move(float(ax[0]), float(ay[0]))
    page.mouse.wheel(0, -700)                 # exp(1.4): about 4x, about the cursor
    page.wait_for_function(f"""() => {{ const p = window.picamOperator;
        const c = p.overlay.drawn.circles.find((c) => Math.abs(c.x - {anchor['x']}) < 1e-3);
        return c && p.view.zoom > 3.5; }}""", timeout=GUARD_MS)
    circles, (ox, oy) = drawn_circles(page)
    drawn = next(c for c in circles if abs(c['x'] - anchor['x']) < 1e-3)
    zoom = page.evaluate('window.picamOperator.view.zoom')
    expected = zoomed_displayed(page, [anchor['x']], [anchor['y']])
    assert (drawn['cx'] + ox, drawn['cy'] + oy) == pytest.approx(
        (expected[0][0], expected[1][0]), abs=0.01)
    # Zoomed about the cursor: the anchor stays under it (the browser rounds the cursor to a
    # whole CSS pixel, which the zoom magnifies).
    assert (drawn['cx'] + ox, drawn['cy'] + oy) == pytest.approx((ax[0], ay[0]),
                                                                 abs=zoom)
    save_screenshot(page, 'zoomed')
    shot = cv2.imread(os.path.join(ARTIFACTS, 'operator', 'zoomed.png'), cv2.IMREAD_GRAYSCALE)
    pads = truth[seq][~truth[seq]['clipped'] & (truth[seq]['area'] >= 40)]
    zx, zy = zoomed_displayed(page, pads['x'], pads['y'])
    stage = page.locator('#stage').bounding_box()
    inside = ((zx > stage['x'] + 2) & (zx < stage['x'] + stage['width'] - 2)
              & (zy > stage['y'] + 2) & (zy < stage['y'] + stage['height'] - 2))
    assert inside.sum() >= 1
    bright = shot[np.rint(zy[inside]).astype(int), np.rint(zx[inside]).astype(int)] > 150
    assert bright.all(), bright                # the video is zoomed where the markers are
    # A click on another pad, zoomed, targets exactly that pad.
    visible = [b for b in blobs if (b['x'], b['y']) != (anchor['x'], anchor['y'])]
    vx, vy = zoomed_displayed(page, [b['x'] for b in visible], [b['y'] for b in visible])
    pick = next(i for i in range(len(visible))
                if stage['x'] + 20 < vx[i] < stage['x'] + stage['width'] - 200
                and stage['y'] + 20 < vy[i] < stage['y'] + stage['height'] - 20)
    page.mouse.click(float(vx[pick]), float(vy[pick]))
    page.wait_for_function(PENDING_NONE, timeout=GUARD_MS)
    target = backend.of(SelectTarget)[-1]
    assert (target.x, target.y) == pytest.approx((visible[pick]['x'], visible[pick]['y']),
                                                 abs=1e-3)
    # A drag pans (and is not a click); 0 fits the frame again.
    before = page.evaluate('window.picamOperator.view.x')
    page.mouse.move(float(vx[pick]), float(vy[pick]))
    page.mouse.down()
    page.mouse.move(float(vx[pick]) + 60, float(vy[pick]), steps=6)
    page.mouse.up()
    assert page.evaluate('window.picamOperator.view.x') != before
    page.keyboard.press('0')
    page.wait_for_function('window.picamOperator.view.zoom === 1', timeout=GUARD_MS)
    page.wait_for_function(PENDING_NONE, timeout=GUARD_MS)
    assert len(backend.of(SelectTarget)) == 1
    page.close()


def test_navigation_can_be_limited_to_leads_so_a_pad_beside_a_lead_is_skipped(browser, scene):
    media, sets, _ = scene
    backend = RecordingBackend()
    server = OperatorServer(
        OperatorConfig(port=0, token=TOKEN, video_url='/media/board.webm',
                       media_dir=str(media), history=FRAMES, profiles=('pads', 'leads')),
        backend)
    server.start()
    try:
        for seq in range(FRAMES):   # each lead 2.4 px above its pad, as on a placed part
            pads = sets[seq]
            leads = pads.blobs.copy()
            leads['y'] -= 2.4
            server.publish_centroids(pads)
            server.publish_centroids(CentroidSet('leads', seq, pads.stamp_ns, WIDTH, HEIGHT,
                                                 leads))
        page = open_page(browser, server)
        pause_on_a_frame(page)
        page.click('#navigate button[data-profile="leads"]')
        page.keyboard.press('ArrowDown')
        page.wait_for_function(PENDING_NONE, timeout=GUARD_MS)
        page.click('#navigate button[data-profile=""]')     # all: the lead's own pad is next
        page.keyboard.press('ArrowDown')
        page.wait_for_function(PENDING_NONE, timeout=GUARD_MS)
        page.click('#navigate button[data-profile="leads"]')
        for _ in range(2):
            page.keyboard.press('ArrowDown')
        page.wait_for_function(PENDING_NONE, timeout=GUARD_MS)
        targets = backend.of(SelectTarget)
        assert [t.profile for t in targets] == ['leads', 'pads', 'leads', 'leads']
        assert np.hypot(targets[1].x - targets[0].x, targets[1].y - targets[0].y) == \
            pytest.approx(2.4, abs=1e-3)
        # From the pad, leads only: the lead 2.4 px above it is behind, the next is far.
        steps = [np.hypot(b.x - a.x, b.y - a.y) for a, b in itertools.pairwise(targets[1:])]
        assert min(steps) > 5.0, steps
        save_screenshot(page, 'navigate_leads')
        page.close()
    finally:
        server.stop()


def test_unset_gates_are_checkboxes_and_wide_ranges_are_typed(browser, scene):
    media, _, _ = scene
    backend = RecordingBackend()
    parameters = [ParameterSpec('pads.u_max', 'integer', -1, 255, value=-1, unset=-1),
                  ParameterSpec('pads.max_area', 'integer', 0, 2**31 - 1, value=0, unset=0),
                  ParameterSpec('pads.min_area', 'integer', 1, 2**31 - 1, value=1)]
    server = OperatorServer(
        OperatorConfig(port=0, token=TOKEN, video_url='/media/board.webm',
                       media_dir=str(media), history=FRAMES), backend, parameters)
    server.start()
    try:
        page = open_page(browser, server)
        gate = page.locator('.param[data-name="pads.u_max"]')
        gate.scroll_into_view_if_needed()
        sync_api.expect(gate.locator('input.gate')).not_to_be_checked()
        assert gate.locator('input.value').input_value() == ''      # "off", not -1
        assert gate.locator('input.value').get_attribute('placeholder') == 'off'
        # The slider spans the values that set the gate: its handle is not at a -1.
        assert gate.locator('.slider').get_attribute('aria-valuemin') == '0'
        # The area limits span 1 .. 2^31: typed, no slider to drag thousands per pixel.
        assert page.locator('.param[data-name="pads.min_area"] .slider').count() == 0
        assert page.locator('.param[data-name="pads.max_area"] .slider').count() == 0
        gate.locator('input.gate').check()
        sync_api.expect(gate.locator('input.value')).to_have_value('255', timeout=GUARD_MS)
        gate.locator('input.value').fill('150')
        gate.locator('input.value').press('Enter')
        sync_api.expect(gate.locator('input.value')).to_have_value('150', timeout=GUARD_MS)
        gate.locator('input.gate').uncheck()
        sync_api.expect(gate.locator('input.value')).to_have_value('', timeout=GUARD_MS)
        area = page.locator('.param[data-name="pads.max_area"]')
        area.locator('input.value').fill('5000')
        area.locator('input.value').press('Enter')
        sync_api.expect(area.locator('input.gate')).to_be_checked(timeout=GUARD_MS)
        sync_api.expect(page.locator('#undo')).to_have_text('undo pads.max_area \u2192 no limit')
        save_screenshot(page, 'keying_gates')
        assert [(a.name, a.value) for a in backend.of(SetParameter)] == [
            ('pads.u_max', 255), ('pads.u_max', 150), ('pads.u_max', -1),
            ('pads.max_area', 5000)]
        page.close()
    finally:
        server.stop()


def test_dragging_a_gate_tints_the_pixels_it_would_key_before_anything_is_sent(
        browser, operator):
    server, backend = operator
    page = open_page(browser, server)
    seq = pause_on_a_frame(page)
    row = page.locator('.param[data-name="pads.luma_min"]')
    row.scroll_into_view_if_needed()
    thumb = row.locator('.slider-thumb').bounding_box()
    page.mouse.move(thumb['x'] + 7, thumb['y'] + 7)
    page.mouse.down()
    for step in range(1, 6):
        page.mouse.move(thumb['x'] + 7 + 5 * step, thumb['y'] + 7)
    # Held: the preview shows the key at the value under the handle (the newest one drawn).
    page.wait_for_function(
        """() => { const made = window.picamOperator.overlay.drawn.mask;
                   const shown = document.querySelector(
                       '.param[data-name="pads.luma_min"] input.value').value;
                   return made && made.gates.luma_min === Number(shown); }""",
        timeout=GUARD_MS)
    gates, selected, width, height, bits = page.evaluate(
        """() => { const made = window.picamOperator.overlay.drawn.mask;
                   const data = made.canvas.getContext('2d')
                       .getImageData(0, 0, made.width, made.height).data;
                   let bits = '';
                   for (let i = 3; i < data.length; i += 4) bits += data[i] ? '1' : '0';
                   return [made.gates, made.selected, made.width, made.height, bits]; }""")
    note = page.text_content('#key-preview')
    cost = page.evaluate('window.picamOperator.keyPreview.costMs')
    save_screenshot(page, 'key_preview')
    sent_while_dragging = list(backend.of(SetParameter))
    page.mouse.up()
    page.wait_for_function('window.picamOperator.overlay.drawn.mask === null && '
                           'window.picamOperator.parameters.done.length === 1',
                           timeout=GUARD_MS)
    page.close()
    # The truth: the centroid engine's luma gate on the frame that was encoded.
    frame = SyntheticSource(SyntheticConfig(width=WIDTH, height=HEIGHT, paced=False)).render(seq)
    luma = frame.to_i420()[:WIDTH * HEIGHT].reshape(HEIGHT, WIDTH)
    truth = (luma >= gates['luma_min']) & (luma <= gates['luma_max'])
    preview = np.frombuffer(bits.encode(), np.uint8).reshape(height, width) == ord('1')
    agree = float(np.mean(preview == truth))
    print(f"luma_min {gates['luma_min']}: preview {selected} px, truth {int(truth.sum())} px, "
          f'{100 * agree:.3f}% of pixels agree; mask made in {min(cost):.1f}-{max(cost):.1f} '
          f'ms; note {note!r}')
    assert sent_while_dragging == []            # the preview is the page's, nothing is sent
    assert (width, height) == (WIDTH, HEIGHT) and gates['luma_min'] > 150
    assert selected == int(preview.sum()) > 0
    assert agree >= 0.99                        # the codec moves pixels near the threshold
    assert f'{selected} of {WIDTH * HEIGHT} pixels selected' in note
