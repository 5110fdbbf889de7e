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

"""Camera node: live rpicam controls, image_raw/compressed, set_camera_info, QoS overrides."""

from __future__ import annotations

import io

import pytest

rclpy = pytest.importorskip(
    'rclpy', reason='rclpy is not installed: the camera node tests need a sourced ROS 2')
PilImage = pytest.importorskip(
    'PIL.Image', reason='the compressed-topic tests decode JPEG with Pillow (python3-pil)')

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402, I100
import fake_rpicam_vid  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import CameraInfo, CompressedImage, Image  # noqa: E402
from sensor_msgs.srv import SetCameraInfo  # noqa: E402
from test_camera_node import camera_graphs, HEIGHT, WIDTH  # noqa: E402

from picam_ros.camera.camera_info import load_calibration  # noqa: E402

pytestmark = pytest.mark.ros

SET_CAMERA_INFO = '/camera/set_camera_info'


@pytest.fixture
def ros():
    yield from camera_graphs()


def diagnostic_values(messages: list) -> dict[str, str]:
    for array in reversed(messages):
        for status in array.status:
            if status.name.endswith(': camera'):
                return {kv.key: kv.value for kv in status.values}
    return {}


def test_live_controls_restart_rpicam_vid_with_them_and_show_in_diagnostics(
        ros, tmp_path, monkeypatch):
    starts = fake_rpicam_vid.install_on_path(tmp_path, monkeypatch)
    graph = ros(source='rpicam', fps=25.0, **{'controls.awb': 'daylight'})
    images = graph.listen(Image, '/camera/image_raw')
    diagnostics = graph.listen(DiagnosticArray, '/diagnostics', 10)
    assert graph.spin_until(lambda: len(images) >= 2)
    assert '--awb' in starts()[0] and '--shutter' not in starts()[0]
    results = graph.camera.set_parameters([Parameter('controls.shutter', value=8000),
                                           Parameter('controls.gain', value=4.0)])
    assert all(r.successful for r in results)
    # The gap is known once the first frame of the new run arrived, which may be after a
    # status that already counts the change: wait for both.
    assert graph.spin_until(lambda: len(starts()) == 2 and diagnostic_values(diagnostics).get(
        'control changes') == '1' and diagnostic_values(diagnostics).get(
        'last control change gap (s)'))
    argv = starts()[-1]
    assert argv[argv.index('--inline') + 1:argv.index('--save-pts')] == [
        '--shutter', '8000', '--gain', '4', '--awb', 'daylight']
    values = diagnostic_values(diagnostics)
    assert values['controls'] == '--shutter 8000 --gain 4 --awb daylight'
    assert float(values['last control change gap (s)']) > 0
    seen = len(images)
    assert graph.spin_until(lambda: len(images) >= seen + 3)   # frames flow again
    assert int(diagnostic_values(diagnostics)['frames with sensor timestamps']) > 0


def test_a_conflicting_live_control_is_rejected_with_both_places_named(
        ros, tmp_path, monkeypatch):
    fake_rpicam_vid.install_on_path(tmp_path, monkeypatch)
    graph = ros(source='rpicam', fps=25.0, extra_args='--ev 1')
    [result] = graph.camera.set_parameters([Parameter('controls.ev', value=0.5)])
    assert not result.successful
    assert 'controls.ev' in result.reason and 'extra_args' in result.reason
    assert graph.camera.get_parameter('controls.ev').value == 0.0


def test_compressed_is_not_encoded_without_a_subscriber(ros):
    graph = ros()
    assert graph.spin_until(lambda: graph.camera._runtime.stats().frames >= 20)
    assert graph.camera._jpeg.encodes == 0 and graph.camera.compressed_published == 0


def test_compressed_topic_carries_jpeg_in_image_transport_format_at_its_own_rate(ros):
    graph = ros(**{'compressed.rate_hz': 10.0})
    compressed = graph.listen(CompressedImage, '/camera/image_raw/compressed')
    assert graph.spin_until(lambda: len(compressed) >= 3)
    message = compressed[-1]
    assert message.format == 'bgr8; jpeg compressed bgr8'
    decoded = PilImage.open(io.BytesIO(bytes(message.data)))
    assert decoded.format == 'JPEG' and decoded.size == (WIDTH, HEIGHT)
    frames = graph.camera._runtime.stats().frames
    # 50 fps in, 10 Hz out (counted, not timed).
    assert graph.camera.compressed_published <= frames // 3
    [grey] = graph.camera.set_parameters([Parameter('compressed.grey', value=True)])
    assert grey.successful
    assert graph.spin_until(lambda: compressed[-1].format == 'mono8; jpeg compressed mono8')


def calibration_request(width: int, height: int) -> SetCameraInfo.Request:
    info = CameraInfo(width=width, height=height, distortion_model='plumb_bob')
    info.d = [0.1, -0.2, 0.0, 0.0, 0.05]
    info.k = [300.0, 0.0, 128.0, 0.0, 301.0, 64.0, 0.0, 0.0, 1.0]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.p = [300.0, 0.0, 128.0, 0.0, 0.0, 301.0, 64.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    return SetCameraInfo.Request(camera_info=info)


def test_set_camera_info_saves_the_calibration_and_publishes_it_at_once(ros, tmp_path):
    target = tmp_path / 'camera.yaml'
    graph = ros(camera_info_url=f'file://{target}')
    infos = graph.listen(CameraInfo, '/camera/camera_info')
    response = graph.call(SetCameraInfo, SET_CAMERA_INFO, calibration_request(WIDTH, HEIGHT))
    assert response.success, response.status_message
    assert load_calibration(str(target)).k[0] == 300.0
    assert graph.spin_until(lambda: infos and infos[-1].k[0] == 300.0)


@pytest.mark.parametrize('url, words', [('/proc/picam-no-such-dir/camera.yaml', 'cannot write'),
                                        (None, 'but the camera delivers')])
def test_set_camera_info_that_cannot_be_saved_fails_with_the_reason(ros, tmp_path, url, words):
    graph = ros(camera_info_url=url or str(tmp_path / 'camera.yaml'))
    request = calibration_request(WIDTH, HEIGHT) if url else calibration_request(640, 480)
    response = graph.call(SetCameraInfo, SET_CAMERA_INFO, request)
    assert not response.success and words in response.status_message


def test_qos_overrides_change_one_publisher_the_ros_2_way(ros):
    graph = ros(**{'qos_overrides./camera/image_raw.publisher.reliability': 'reliable',
                   'qos_overrides./camera/image_raw.publisher.depth': 3})
    camera = graph.camera
    assert camera._image.publisher.qos_profile.reliability == ReliabilityPolicy.RELIABLE
    assert camera._image.publisher.qos_profile.depth == 3
    for untouched in (camera._info_pub, camera._compressed_pub):   # the qos.* defaults
        assert untouched.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
        assert untouched.qos_profile.depth == 5
    assert camera.has_parameter('qos_overrides./camera/image_raw/compressed.publisher.depth')
