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

"""The camera node on a real ROS 2 graph (Jazzy or Humble): topics, parameters, teardown."""

from __future__ import annotations

import os
from pathlib import Path
import time

import pytest

rclpy = pytest.importorskip(
    'rclpy', reason='rclpy is not installed: the camera node tests need a sourced ROS 2')

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402, I100
from graph_probe import GraphProbe  # noqa: E402
from proctree import descendants  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402

from picam_ros.ros.camera_node import CameraNode  # noqa: E402
from picam_ros.sources import SourceError  # noqa: E402

pytestmark = pytest.mark.ros

BOARD_YAML = Path(__file__).parents[1] / 'data' / 'board_camera_1024.yaml'
WIDTH, HEIGHT = 256, 128
SMALL = {'width': WIDTH, 'height': HEIGHT, 'fps': 50.0, 'stream.enabled': False}


class Graph(GraphProbe):
    """A camera node plus the probe node, spun by one executor."""

    def __init__(self, **overrides: object) -> None:
        params = [Parameter(name, value=value) for name, value in {**SMALL, **overrides}.items()]
        self.camera = CameraNode(parameter_overrides=params)
        super().__init__('camera_node_probe', nodes=(self.camera,))
        self.closed = False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        super().close()
        self.camera.destroy_node()


def camera_graphs():
    """Yield a factory of camera graphs; close them all and shut rclpy down afterwards."""
    rclpy.init()
    graphs: list[Graph] = []

    def make(**overrides: object) -> Graph:
        graph = Graph(**overrides)
        graphs.append(graph)
        return graph

    yield make
    for graph in graphs:
        graph.close()
    rclpy.try_shutdown()


@pytest.fixture
def ros():
    yield from camera_graphs()


@pytest.mark.parametrize('encoding, step, size', [
    ('nv21', WIDTH, WIDTH * HEIGHT * 3 // 2),
    ('mono8', WIDTH, WIDTH * HEIGHT),
    ('bgr8', 3 * WIDTH, 3 * WIDTH * HEIGHT),
])
def test_node_publishes_images_of_the_declared_encoding_size_and_step(ros, encoding, step, size):
    graph = ros(encoding=encoding, frame_id='board_optical')
    images = graph.listen(Image, '/camera/image_raw')
    assert graph.spin_until(lambda: len(images) >= 3)
    image = images[-1]
    assert (image.encoding, image.width, image.height) == (encoding, WIDTH, HEIGHT)
    assert image.step == step and len(image.data) == size and image.is_bigendian == 0
    assert image.header.frame_id == 'board_optical'
    stamp_ns = image.header.stamp.sec * 10**9 + image.header.stamp.nanosec
    assert 0 < time.time_ns() - stamp_ns < 60 * 10**9   # a capture time, not zero


def test_camera_info_carries_the_calibration_with_the_image_stamps(ros, tmp_path):
    calibration = tmp_path / 'small.yaml'
    calibration.write_text(BOARD_YAML.read_text()
                           .replace('image_width: 1024', f'image_width: {WIDTH}')
                           .replace('image_height: 1024', f'image_height: {HEIGHT}'))
    graph = ros(camera_info_url=f'file://{calibration}')
    infos = graph.listen(CameraInfo, '/camera/camera_info')
    images = graph.listen(Image, '/camera/image_raw')
    assert graph.spin_until(lambda: len(infos) >= 3 and len(images) >= 3)
    info = infos[-1]
    assert (info.width, info.height, info.distortion_model) == (WIDTH, HEIGHT, 'plumb_bob')
    assert list(info.k) == [889.4127, 0, 514.2083, 0, 888.9371, 509.7765, 0, 0, 1]
    assert len(info.d) == 5 and len(info.p) == 12

    def stamps(messages: list) -> set[tuple[int, int]]:
        return {(m.header.stamp.sec, m.header.stamp.nanosec) for m in messages}

    # Each camera_info goes out with the header of the image it belongs to.
    assert graph.spin_until(lambda: stamps(infos) & stamps(images))


def test_without_calibration_camera_info_is_honestly_uncalibrated(ros):
    graph = ros()
    infos = graph.listen(CameraInfo, '/camera/camera_info')
    assert graph.spin_until(lambda: len(infos) >= 1)
    assert infos[-1].k[0] == 0.0 and (infos[-1].width, infos[-1].height) == (WIDTH, HEIGHT)


def test_no_image_is_built_while_nobody_subscribes(ros):
    graph = ros()
    assert graph.spin_until(lambda: graph.camera._runtime.stats().frames >= 10)
    assert graph.camera.images_published == 0 and graph.camera.throttled_published == 0


def test_throttled_topic_carries_a_fraction_of_the_frames(ros):
    graph = ros(throttle_rate_hz=5.0)
    raw = graph.listen(Image, '/camera/image_raw')
    throttled = graph.listen(Image, '/camera/image_throttled')
    assert graph.spin_until(lambda: len(raw) >= 60)
    # 50 fps in, 5 Hz out: about one in ten (counted, not timed).
    assert 1 <= graph.camera.throttled_published <= graph.camera.images_published // 5
    assert throttled, 'the throttled topic must deliver frames'


def test_invalid_live_changes_are_rejected_with_a_reason(ros):
    graph = ros()
    node = graph.camera
    [bad_encoding] = node.set_parameters([Parameter('encoding', value='yuv422')])
    assert not bad_encoding.successful and 'yuv422' in bad_encoding.reason
    [read_only] = node.set_parameters([Parameter('width', value=640)])
    assert not read_only.successful
    [mismatch] = node.set_parameters([Parameter('camera_info_url', value=str(BOARD_YAML))])
    assert not mismatch.successful and '1024x1024' in mismatch.reason
    [negative] = node.set_parameters([Parameter('throttle_rate_hz', value=-1.0)])
    assert not negative.successful
    assert node.get_parameter('encoding').value == 'nv21'


def test_live_encoding_change_applies_to_the_next_images(ros):
    graph = ros()
    images = graph.listen(Image, '/camera/image_raw')
    assert graph.spin_until(lambda: len(images) >= 1)
    [result] = graph.camera.set_parameters([Parameter('encoding', value='mono8')])
    assert result.successful
    assert graph.spin_until(lambda: images[-1].encoding == 'mono8')
    assert len(images[-1].data) == WIDTH * HEIGHT


def test_missing_mediamtx_keeps_images_flowing_and_shows_in_diagnostics(ros):
    graph = ros(**{'stream.enabled': True, 'stream.mediamtx_path': '/nonexistent/mediamtx'})
    images = graph.listen(Image, '/camera/image_raw')
    diagnostics = graph.listen(DiagnosticArray, '/diagnostics', 10)

    def stream_error() -> bool:
        return any(status.name.endswith('stream') and status.level == DiagnosticStatus.ERROR
                   and 'MediaMTX' in status.message
                   for array in diagnostics for status in array.status)

    assert graph.spin_until(lambda: stream_error() and len(images) >= 5)


def test_destroyed_node_leaves_no_child_process(ros):
    before = descendants(os.getpid())
    graph = ros(source='ffmpeg', input=f'lavfi:testsrc2=size={WIDTH}x{HEIGHT}:rate=50')
    assert graph.spin_until(lambda: graph.camera._runtime.stats().frames >= 5)
    assert descendants(os.getpid()) - before
    graph.close()   # destroys the camera node
    assert descendants(os.getpid()) - before == set()


def test_capture_that_stops_for_good_ends_the_spin_with_the_cause(ros, tmp_path):
    clip = tmp_path / 'not-a-video.mkv'   # exists, so the node starts; ffmpeg cannot decode it
    clip.write_bytes(bytes(range(256)) * 16)
    graph = ros(source='ffmpeg', input=str(clip), max_failures=1)
    diagnostics = graph.listen(DiagnosticArray, '/diagnostics', 10)
    with pytest.raises(SourceError, match='capture stopped'):
        graph.spin_until(lambda: False)
    # The ERROR report went out just before; receive it without the camera's next report,
    # which would raise again.
    graph.executor.remove_node(graph.camera)
    assert graph.spin_until(lambda: any(
        status.level == DiagnosticStatus.ERROR and 'giving up' in status.message
        for array in diagnostics for status in array.status))
