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

"""The operator node on a real ROS 2 graph: a page's actions become ROS, over its WebSocket.

One context holds a real centroid node, the operator node and a probe (frames in, targets
out), spun by an executor thread; the test speaks the page's protocol to the node's server.
"""

import asyncio
import importlib.util
import json
import os
import shutil
import subprocess
import threading
import time

import pytest

REASON = 'rclpy is not installed: the operator node tests need a sourced ROS 2'
rclpy = pytest.importorskip('rclpy', reason=REASON)
rclpy_context = pytest.importorskip('rclpy.context', reason=REASON)
rclpy_executors = pytest.importorskip('rclpy.executors', reason=REASON)
rclpy_parameter = pytest.importorskip('rclpy.parameter', reason=REASON)
rclpy_qos = pytest.importorskip('rclpy.qos', reason=REASON)
sensor_msgs = pytest.importorskip('sensor_msgs.msg', reason=REASON)
geometry_msgs = pytest.importorskip('geometry_msgs.msg', reason=REASON)
std_msgs = pytest.importorskip('std_msgs.msg', reason=REASON)
aiohttp = pytest.importorskip('aiohttp', reason='the operator node needs aiohttp')
centroid_node = pytest.importorskip('picam_ros.ros.centroid_node', reason=REASON)
operator_node = pytest.importorskip('picam_ros.operator_page.operator_node', reason=REASON)

from picam_ros.core.payloads import fill_image, image_payload  # noqa: E402, I100
from picam_ros.sources.synthetic import SyntheticConfig, SyntheticSource  # noqa: E402

pytestmark = pytest.mark.ros

GUARD_S = 20.0   # failure guard only, never a measurement
WIDTH, HEIGHT = 320, 240


class Graph:
    def __init__(self, **operator_parameters):
        self.context = rclpy_context.Context()
        rclpy.init(context=self.context)
        self.centroids = centroid_node.CentroidNode(context=self.context)
        self.operator = operator_node.OperatorNode(
            context=self.context,
            parameter_overrides=[rclpy_parameter.Parameter(name, value=value) for name, value
                                 in {'port': 0, **operator_parameters}.items()])
        self.probe = rclpy.create_node('operator_probe', context=self.context)
        self.images = self.probe.create_publisher(sensor_msgs.Image, 'image',
                                                  rclpy_qos.qos_profile_sensor_data)
        self.targets = []
        self.probe.create_subscription(geometry_msgs.PointStamped, 'target',
                                       self.targets.append, 10)
        self.executor = rclpy_executors.MultiThreadedExecutor(num_threads=2,
                                                              context=self.context)
        for node in (self.centroids, self.operator, self.probe):
            self.executor.add_node(node)
        self.spinner = threading.Thread(target=self._spin, daemon=True)
        self.spinner.start()
        self.source = SyntheticSource(SyntheticConfig(width=WIDTH, height=HEIGHT, paced=False))

    def _spin(self):
        try:
            self.executor.spin()
        except rclpy_executors.ExternalShutdownException:
            pass

    def publish_frame(self, sequence):
        header = std_msgs.Header(frame_id='board_optical')
        header.stamp.sec = sequence
        payload = image_payload(self.source.render(sequence), 'nv21')
        self.images.publish(fill_image(sensor_msgs.Image(), payload, header))

    def wait(self, condition):
        deadline = time.monotonic() + GUARD_S
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.01)   # polling a condition set by the executor thread
        return condition()

    def close(self):
        self.operator.destroy_node()
        self.centroids.destroy_node()
        self.probe.destroy_node()
        rclpy.try_shutdown(context=self.context)
        self.executor.shutdown(timeout_sec=5.0)
        self.spinner.join(5.0)


@pytest.fixture
def graph():
    graph = Graph()
    yield graph
    graph.close()


async def page_session(graph, scenario, token=True):
    server = graph.operator.server
    async with aiohttp.ClientSession() as session, \
            session.ws_connect(f'{server.url()}ws') as ws:
        ids = iter(range(1, 1000))

        async def receive(kind, guard=GUARD_S):
            while True:
                message = await asyncio.wait_for(ws.receive(), guard)
                data = json.loads(message.data)
                if data['type'] == kind:
                    return data

        async def reply(message):
            ident = next(ids)
            await ws.send_str(json.dumps({**message, 'id': ident}))
            while True:
                data = json.loads((await asyncio.wait_for(ws.receive(), GUARD_S)).data)
                if data.get('id') == ident and data['type'] in ('done', 'refused',
                                                                'authorised'):
                    return data

        hello = await receive('hello')
        if token:
            assert (await reply({'action': 'auth', 'token': server.token}))['type'] == \
                'authorised'
        return await scenario(hello, receive, reply)


def test_a_click_on_a_centroid_publishes_its_target(graph):
    async def scenario(hello, receive, reply):
        assert graph.wait(lambda: graph.centroids.count_publishers('image') >= 1)
        deadline = time.monotonic() + GUARD_S
        while time.monotonic() < deadline:   # until the centroid node has matched the probe
            graph.publish_frame(7)
            try:
                pushed = await receive('centroids', guard=0.5)
                break
            except asyncio.TimeoutError:
                continue
        x, y, _ = pushed['points'][2][:3]
        done = await reply({'action': 'select_target', 'profile': 'pads', 'x': x, 'y': y})
        return pushed, done, x, y

    pushed, done, x, y = asyncio.run(page_session(graph, scenario))
    assert pushed['stamp_ns'] == 7_000_000_000 and pushed['profile'] == 'pads'
    assert done['type'] == 'done'
    assert graph.wait(lambda: graph.targets)
    target = graph.targets[-1]
    assert (target.point.x, target.point.y, target.point.z) == (x, y, 0.0)
    assert target.header.frame_id == 'board_optical' and target.header.stamp.sec == 7
    truth = graph.source.ground_truth(7)
    assert min(abs(truth['x'] - x) + abs(truth['y'] - y)) < 1e-3


def test_a_controller_that_subscribes_after_the_click_still_gets_the_target(graph):
    async def scenario(hello, receive, reply):
        return await reply({'action': 'select_target', 'x': 12.5, 'y': 34.0})

    assert asyncio.run(page_session(graph, scenario))['type'] == 'done'
    late = []
    graph.probe.create_subscription(
        geometry_msgs.PointStamped, 'target', late.append,
        rclpy_qos.QoSProfile(depth=1, durability=rclpy_qos.DurabilityPolicy.TRANSIENT_LOCAL))
    assert graph.wait(lambda: late)
    assert (late[0].point.x, late[0].point.y) == (12.5, 34.0)


def test_a_live_frame_id_change_names_the_next_target_without_a_set(graph):
    result = graph.operator.set_parameters([rclpy_parameter.Parameter('frame_id',
                                                                      value='tray')])[0]
    assert result.successful, result.reason

    async def scenario(hello, receive, reply):
        return await reply({'action': 'select_target', 'x': 1.0, 'y': 2.0})

    assert asyncio.run(page_session(graph, scenario))['type'] == 'done'
    assert graph.wait(lambda: graph.targets)
    assert graph.targets[-1].header.frame_id == 'tray'


def test_a_change_with_a_read_only_parameter_is_refused_whole(graph):
    result = graph.operator.set_parameters_atomically([
        rclpy_parameter.Parameter('frame_id', value='tray'),
        rclpy_parameter.Parameter('port', value=9000)])
    assert not result.successful and 'port' in result.reason
    assert graph.operator.get_parameter('frame_id').value == 'camera_optical_frame'


def test_a_slider_change_sets_the_centroid_node_parameter(graph):
    async def scenario(hello, receive, reply):
        assert graph.wait(lambda: graph.operator._keying.services_are_ready())
        return await reply({'action': 'set_parameter', 'name': 'pads.luma_min', 'value': 170})

    assert asyncio.run(page_session(graph, scenario))['type'] == 'done'
    assert graph.centroids.get_parameter('pads.luma_min').value == 170


def test_the_centroid_nodes_refusal_reaches_the_page_with_its_reason(graph):
    async def scenario(hello, receive, reply):
        assert graph.wait(lambda: graph.operator._keying.services_are_ready())
        return await reply({'action': 'set_parameter', 'name': 'pads.luma_max', 'value': 100})

    refusal = asyncio.run(page_session(graph, scenario))
    assert refusal['type'] == 'refused'
    assert 'pads.luma_min: 150 is greater than pads.luma_max 100' in refusal['reason']
    assert graph.centroids.get_parameter('pads.luma_max').value == 255


def test_without_the_token_nothing_is_published_or_set(graph):
    async def scenario(hello, receive, reply):
        assert graph.wait(lambda: graph.operator._keying.services_are_ready())
        return [await reply({'action': 'select_target', 'x': 5.0, 'y': 6.0}),
                await reply({'action': 'set_parameter', 'name': 'pads.luma_min',
                             'value': 170}),
                await reply({'action': 'rotate', 'degrees': 1.0})]

    replies = asyncio.run(page_session(graph, scenario, token=False))
    assert [r['type'] for r in replies] == ['refused'] * 3
    assert graph.centroids.get_parameter('pads.luma_min').value == 150
    assert graph.targets == []


CHROMIUM = os.environ.get('CHROMIUM', '/usr/bin/chromium')
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                 '--disable-background-networking', '--disable-component-update',
                 '--disable-sync', '--autoplay-policy=no-user-gesture-required']


def test_a_click_in_the_browser_publishes_the_clicked_centroid(tmp_path):
    sync_api = pytest.importorskip('playwright.sync_api', reason='needs Playwright')
    if not os.access(CHROMIUM, os.X_OK) or shutil.which('ffmpeg') is None:
        pytest.skip('needs Chromium and ffmpeg')
    source = SyntheticSource(SyntheticConfig(width=WIDTH, height=HEIGHT, paced=False))
    encoder = subprocess.Popen(
        ['ffmpeg', '-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'yuv420p',
         '-s', f'{WIDTH}x{HEIGHT}', '-r', '25', '-i', 'pipe:0', '-c:v', 'libvpx', '-b:v', '4M',
         str(tmp_path / 'board.webm')], stdin=subprocess.PIPE)
    for _ in range(25):
        encoder.stdin.write(source.render(7).to_i420().tobytes())   # frame 7, held for 1 s
    encoder.stdin.close()
    assert encoder.wait(60) == 0
    graph = Graph(video_url='/media/board.webm', media_dir=str(tmp_path))
    try:
        assert graph.wait(lambda: graph.centroids.count_publishers('image') >= 1)
        clouds = []
        graph.probe.create_subscription(sensor_msgs.PointCloud2, 'centroids', clouds.append, 10)
        deadline = time.monotonic() + GUARD_S
        while not clouds and time.monotonic() < deadline:
            graph.publish_frame(7)
            time.sleep(0.05)   # pacing the probe's frames until the centroid node answers
        assert clouds
        truth = graph.source.ground_truth(7)
        pad = truth[~truth['clipped']][0]
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={'width': 1000, 'height': 700})
                page.goto(graph.operator.server.url(with_token=True))
                page.wait_for_function(
                    'window.picamOperator && window.picamOperator.authorised && '
                    'window.picamOperator.overlay.drawn.circles.length > 0', timeout=20000)
                page.evaluate('window.picamOperator.video.pause()')
                box = page.evaluate("""() => { const v = document.getElementById('video');
                    const r = v.getBoundingClientRect();
                    return [r.left, r.top, v.clientWidth, v.clientHeight]; }""")
                left, top, width, height = box
                scale = min(width / WIDTH, height / HEIGHT)
                x = left + (width - WIDTH * scale) / 2 + (pad['x'] + 0.5) * scale
                y = top + (height - HEIGHT * scale) / 2 + (pad['y'] + 0.5) * scale
                page.mouse.click(x + 0.7, y - 0.7)
                page.wait_for_function('window.picamOperator.pending.size === 0', timeout=20000)
            finally:
                browser.close()
        assert graph.wait(lambda: graph.targets)
        target = graph.targets[-1]
        assert target.point.x == pytest.approx(pad['x'], abs=1e-3)
        assert target.point.y == pytest.approx(pad['y'], abs=1e-3)
        assert target.header.stamp.sec == 7 and target.header.frame_id == 'board_optical'
    finally:
        graph.close()


def require_launch():
    """Skip unless the ROS 2 launch package is there (not the repository's launch/ folder)."""
    try:
        from launch import LaunchDescription  # noqa: F401
    except ImportError:
        pytest.skip('needs the ROS 2 launch package (not on PyPI, so not in CI)')


def load_operator_launch():
    """Load launch/operator.launch.py by path, as ros2 launch does."""
    require_launch()
    path = os.path.join(os.path.dirname(__file__), '..', '..', 'launch', 'operator.launch.py')
    spec = importlib.util.spec_from_file_location('operator_launch', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def launch_context(module, **arguments):
    launch = pytest.importorskip('launch', reason='needs the ROS 2 launch package')
    context = launch.LaunchContext()
    for name, (default, _) in module.OPERATOR_ARGUMENTS.items():
        context.launch_configurations[name] = arguments.get(name, default)
    return context


def test_operator_false_launches_nothing():
    module = load_operator_launch()
    assert module.launch_operator(launch_context(module, operator='false')) == []


def test_a_bad_port_argument_is_named():
    module = load_operator_launch()
    with pytest.raises(RuntimeError, match="operator_port 'eighty' is not a number"):
        module.launch_operator(launch_context(module, operator_port='eighty'))


def test_a_mode_button_sets_the_mode_node_parameter_in_its_spelling():
    graph = Graph(mode_node='/machine_probe')
    try:
        machine = rclpy.create_node('machine_probe', context=graph.context)
        machine.declare_parameter('mode', 'frozen')
        graph.executor.add_node(machine)

        async def scenario(hello, receive, reply):
            assert hello['features']['modes'] is True
            assert graph.wait(lambda: graph.operator._mode.services_are_ready())
            return await reply({'action': 'set_mode', 'mode': 'ONLYUP'})

        assert asyncio.run(page_session(graph, scenario))['type'] == 'done'
        assert machine.get_parameter('mode').value == 'onlyup'
        graph.executor.remove_node(machine)
        machine.destroy_node()
    finally:
        graph.close()


def load_launch_file(name):
    require_launch()
    path = os.path.join(os.path.dirname(__file__), '..', '..', 'launch', name)
    spec = importlib.util.spec_from_file_location(name.replace('.', '_'), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stream_launch_includes(**arguments):
    """Return the files stream.launch.py includes with these arguments and their arguments."""
    launch = pytest.importorskip('launch', reason='needs the ROS 2 launch package')
    module = load_launch_file('stream.launch.py')
    description = module.generate_launch_description()
    context = launch.LaunchContext()
    declared = {entity.name: entity.default_value for entity in description.entities
                if isinstance(entity, launch.actions.DeclareLaunchArgument)}
    for name, default in declared.items():
        context.launch_configurations[name] = arguments.get(
            name, launch.utilities.perform_substitutions(context, default or []))
    included = {}
    for entity in module.launch_graph(context):
        source = entity.launch_description_source
        source.get_launch_description(context)   # loads the file and expands its location
        included[os.path.basename(source.location)] = {
            name: launch.utilities.perform_substitutions(
                context, launch.utilities.normalize_to_list_of_substitutions(value))
            for name, value in entity.launch_arguments}
    return declared, included


def test_stream_launch_includes_the_operator_page_with_its_switch():
    declared, included = stream_launch_includes(operator='false')
    assert 'operator' in declared
    assert included['operator.launch.py']['operator'] == 'false'


@pytest.mark.parametrize('centroids, node', [('node', ''), ('inprocess', 'camera')])
def test_stream_launch_points_the_sliders_at_the_node_that_computes_centroids(centroids, node):
    # '' leaves the operator node's default, the centroid node (`centroids`).
    _, included = stream_launch_includes(centroids=centroids)
    assert included['operator.launch.py']['centroid_node'] == node


def test_operator_launch_passes_the_machine_node_to_the_operator_node():
    module = load_operator_launch()
    module.parameter_files = lambda context: []   # config/picam.yaml of an installed package
    context = launch_context(module, machine_node='machine')
    context.launch_configurations.update(namespace='', log_level='info', params_file='')
    launch_ros_utilities = pytest.importorskip('launch_ros.utilities', reason='needs launch_ros')
    (node,) = module.launch_operator(context)
    parameters = launch_ros_utilities.evaluate_parameters(context, node._Node__parameters)
    assert parameters == ({'host': '127.0.0.1', 'port': 8080, 'machine_node': 'machine'},)


def test_a_page_gets_the_centroid_nodes_current_values_for_its_sliders(graph):
    graph.centroids.set_parameters([rclpy_parameter.Parameter('pads.luma_min', value=171)])
    assert graph.wait(lambda: graph.operator.server.parameters['pads.luma_min'].value == 171)

    async def scenario(hello, receive, reply):
        return {spec['name']: spec['value'] for spec in hello['parameters']}

    values = asyncio.run(page_session(graph, scenario, token=False))
    assert values['pads.luma_min'] == 171 and values['pads.luma_max'] == 255


def test_the_default_video_is_the_composite_with_a_machine_node_else_the_camera():
    for parameters, path, profiles in (({}, 'cam', ('pads',)),
                                       ({'machine_node': 'machine'}, 'composite',
                                        ('pads', 'leads'))):
        graph = Graph(**parameters)
        try:
            config = graph.operator.server.page_config()
            assert config['video']['whep'] == f'http://{{host}}:8889/{path}/whep'
            assert tuple(config['profiles']) == profiles
            assert config['features']['calibration'] is bool(parameters)
        finally:
            graph.close()


def test_two_cameras_give_each_camera_its_own_operator_page_port():
    launch = pytest.importorskip('launch', reason='needs the ROS 2 launch package')
    pytest.importorskip('launch_ros', reason='needs the ROS 2 launch_ros package')
    description = load_launch_file('two_cameras.launch.py').generate_launch_description()
    context = launch.LaunchContext()
    for entity in description.entities:
        if isinstance(entity, launch.actions.DeclareLaunchArgument):
            context.launch_configurations[entity.name] = launch.utilities.perform_substitutions(
                context, entity.default_value)
    ports = {}
    for entity in description.entities:
        if isinstance(entity, launch.actions.IncludeLaunchDescription):
            arguments = {name: launch.utilities.perform_substitutions(
                context, launch.utilities.normalize_to_list_of_substitutions(value))
                for name, value in entity.launch_arguments
                if name in ('namespace', 'operator_port')}   # params_file needs an install
            ports[arguments['namespace']] = arguments['operator_port']
    assert ports == {'board': '8080', 'component': '8081'}
