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

"""The centroid node on a real ROS 2 graph (Jazzy or Humble), fed synthetic frames in process."""

import time

import numpy as np
import pytest

REASON = 'rclpy is not installed: the centroid node tests need a sourced ROS 2'
rclpy = pytest.importorskip('rclpy', reason=REASON)
rclpy_context = pytest.importorskip('rclpy.context', reason=REASON)
rclpy_executors = pytest.importorskip('rclpy.executors', reason=REASON)
rclpy_parameter = pytest.importorskip('rclpy.parameter', reason=REASON)
rclpy_qos = pytest.importorskip('rclpy.qos', reason=REASON)
sensor_msgs = pytest.importorskip('sensor_msgs.msg', reason=REASON)
diagnostic_msgs = pytest.importorskip('diagnostic_msgs.msg', reason=REASON)
std_msgs = pytest.importorskip('std_msgs.msg', reason=REASON)
centroid_node = pytest.importorskip('picam_ros.ros.centroid_node', reason=REASON)

import cloud_reader as point_cloud2  # noqa: E402, I100   (sensor_msgs_py is not on PyPI)

from picam_ros.core.payloads import fill_image, image_payload  # noqa: E402, I100
from picam_ros.sources.synthetic import SyntheticConfig, SyntheticSource  # noqa: E402

pytestmark = pytest.mark.ros

GUARD_S = 20.0   # failure guard only, never a measurement
WIDTH, HEIGHT = 320, 240
FIELDS = ['x', 'y', 'z', 'area', 'bbox_x', 'bbox_y', 'bbox_w', 'bbox_h', 'touches_border',
          'mean_luma', 'mu20', 'mu11', 'mu02', 'orientation', 'major_axis', 'minor_axis']


class Graph:
    """A centroid node plus a probe that publishes synthetic frames, in one private context."""

    def __init__(self, **overrides):
        self.context = rclpy_context.Context()
        rclpy.init(context=self.context)
        parameters = [rclpy_parameter.Parameter(name, value=value)
                      for name, value in overrides.items()]
        self.node = centroid_node.CentroidNode(context=self.context,
                                               parameter_overrides=parameters)
        self.probe = rclpy.create_node('centroid_probe', context=self.context)
        self.executor = rclpy_executors.SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.probe)
        self.publisher = self.probe.create_publisher(
            sensor_msgs.Image, 'image', rclpy_qos.qos_profile_sensor_data)
        self.source = SyntheticSource(SyntheticConfig(width=WIDTH, height=HEIGHT, paced=False))
        self.sequence = 0

    def listen(self, msg_type, topic, qos=10):
        messages = []
        self.probe.create_subscription(msg_type, topic, messages.append, qos)
        return messages

    def publish_frame(self, encoding='nv21'):
        """Publish the next synthetic frame; its stamp's seconds carry the sequence number."""
        self.sequence += 1
        frame = self.source.render(self.sequence)
        header = std_msgs.Header(frame_id='board_optical')
        header.stamp.sec = self.sequence
        self.publisher.publish(
            fill_image(sensor_msgs.Image(), image_payload(frame, encoding), header))

    def feed_until(self, condition, encoding='nv21'):
        """Publish frames and spin until ``condition()`` holds (or the guard expires)."""
        deadline = time.monotonic() + GUARD_S
        while time.monotonic() < deadline:
            if condition():
                return True
            self.publish_frame(encoding)
            self.executor.spin_once(timeout_sec=0.02)
        return condition()

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()
        self.probe.destroy_node()
        rclpy.try_shutdown(context=self.context)


@pytest.fixture
def graph_of():
    graphs = []

    def make(**overrides):
        graphs.append(Graph(**overrides))
        return graphs[-1]

    yield make
    for graph in graphs:
        graph.close()


def test_centroids_carry_every_field_and_the_frame_header(graph_of):
    graph = graph_of()
    clouds = graph.listen(sensor_msgs.PointCloud2, 'centroids')
    assert graph.feed_until(lambda: clouds)
    cloud = clouds[-1]
    assert [field.name for field in cloud.fields] == FIELDS
    assert cloud.header.frame_id == 'board_optical' and cloud.height == 1
    assert point_cloud2.read_points_numpy(cloud).shape == (cloud.width, len(FIELDS))


@pytest.mark.parametrize('encoding', ['nv21', 'nv12', 'mono8', 'bgr8'])
def test_centroids_match_the_synthetic_ground_truth(graph_of, encoding):
    graph = graph_of()
    clouds = graph.listen(sensor_msgs.PointCloud2, 'centroids')
    assert graph.feed_until(lambda: len(clouds) >= 3, encoding)
    for cloud in clouds:
        points = point_cloud2.read_points(cloud, field_names=['x', 'y', 'area'])
        truth = graph.source.ground_truth(cloud.header.stamp.sec)
        assert points.shape[0] == truth.shape[0] > 0
        assert np.abs(points['x'] - truth['x']).max() < 0.5
        assert np.abs(points['y'] - truth['y']).max() < 0.5
        assert np.array_equal(points['area'], truth['area'].astype(np.float32))


def test_a_threshold_change_applies_to_the_next_processed_frames(graph_of):
    graph = graph_of()
    clouds = graph.listen(sensor_msgs.PointCloud2, 'centroids')
    assert graph.feed_until(lambda: clouds and clouds[-1].width > 0)
    [result] = graph.node.set_parameters(
        [rclpy_parameter.Parameter('pads.luma_min', value=250)])
    assert result.successful, result.reason
    seen = len(clouds)
    # Synthetic pads peak below luma 240: nothing is keyed any more.
    assert graph.feed_until(lambda: len(clouds) > seen + 3)
    assert clouds[-1].width == 0 and clouds[-2].width == 0


@pytest.mark.parametrize('name, value, reason', [
    ('pads.luma_min', 300, 'pads.luma_min'),          # outside the declared range
    ('pads.luma_max', 100, 'luma_min'),                 # below luma_min (150)
    ('pads.connectivity', 6, 'pads.connectivity'),      # only 4 or 8
    ('profiles', ['leads'], 'profiles'),                # read-only
])
def test_invalid_changes_are_rejected_with_a_reason(graph_of, name, value, reason):
    graph = graph_of()
    [result] = graph.node.set_parameters([rclpy_parameter.Parameter(name, value=value)])
    assert not result.successful
    assert reason in result.reason or name in result.reason


#: Between the 320x240 scene's pads (about 100-120 px) and its large parts (about 1000 px).
BIG_AREA = 300


def test_every_profile_publishes_on_its_own_topic(graph_of):
    graph = graph_of(**{'profiles': ['pads', 'big'], 'big.min_area': BIG_AREA})
    pads = graph.listen(sensor_msgs.PointCloud2, 'centroids')
    big = graph.listen(sensor_msgs.PointCloud2, 'big/centroids')

    def same_frame():   # a pads cloud and a big cloud of one frame
        stamps = {(c.header.stamp.sec, c.header.stamp.nanosec): c for c in pads}
        return [(stamps[key], c) for c in big
                if (key := (c.header.stamp.sec, c.header.stamp.nanosec)) in stamps]

    assert graph.feed_until(same_frame)
    every, large = same_frame()[-1]
    all_areas = point_cloud2.read_points(every, field_names=['area'])['area']
    assert (all_areas < BIG_AREA).any() and (all_areas >= BIG_AREA).any()   # the premise
    areas = point_cloud2.read_points(large, field_names=['area'])['area']
    assert len(areas) == (all_areas >= BIG_AREA).sum() > 0
    assert (areas >= BIG_AREA).all() and large.width < every.width


def test_debug_image_is_built_only_for_subscribers(graph_of):
    graph = graph_of()
    clouds = graph.listen(sensor_msgs.PointCloud2, 'centroids')
    assert graph.feed_until(lambda: len(clouds) >= 3)
    assert graph.node._publisher._outputs[0].debug_buffer is None
    images = graph.listen(sensor_msgs.Image, 'debug_image')
    assert graph.feed_until(lambda: images)
    image = images[-1]
    assert (image.encoding, image.width, image.height, image.step) == (
        'bgr8', WIDTH, HEIGHT, 3 * WIDTH)


def test_decimation_skips_frames_and_diagnostics_report_it(graph_of):
    graph = graph_of(process_every_n=4, diagnostics_period=0.2)
    diagnostics = graph.listen(diagnostic_msgs.DiagnosticArray, '/diagnostics')

    def values():
        for array in diagnostics:
            for status in array.status:
                if status.name.endswith(': centroids'):
                    yield {item.key: item.value for item in status.values}

    def skipped_and_processed():
        return any(int(v['frames skipped (decimation)']) > 0 and int(v['frames processed']) > 0
                   for v in values())

    assert graph.feed_until(skipped_and_processed)
    report = next(v for v in values() if int(v['frames processed']) > 0)
    assert float(report['processing time mean (ms)']) > 0
    assert int(report['pads: blobs']) > 0
