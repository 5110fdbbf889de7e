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

"""stream.launch.py end to end (launch_testing): synthetic camera -> throttled topic -> centroids.

Run on a ROS 2 machine after ``colcon build`` and sourcing the workspace: ``colcon test`` or
``launch_test test/ros/test_stream_launch.py``. Brings up the camera and centroid nodes with the
synthetic source and no stream, checks the centroids against the scene's ground truth, tunes a
threshold through the SetParameters service, and checks that shutdown leaves no process.
"""

import os
from pathlib import Path
import time
import unittest

import numpy as np
import pytest

REASON = ('needs launch, launch_ros, launch_testing and sensor_msgs_py (not on PyPI, so not in '
          'CI): run it where a full ROS 2 is sourced, e.g. the env ros-jazzy-env.sh builds')
launch_testing = pytest.importorskip('launch_testing', reason=REASON)
launch_testing_actions = pytest.importorskip('launch_testing.actions', reason=REASON)
launch_testing_asserts = pytest.importorskip('launch_testing.asserts', reason=REASON)
launch = pytest.importorskip('launch', reason=REASON)
launch_actions = pytest.importorskip('launch.actions', reason=REASON)
launch_sources = pytest.importorskip('launch.launch_description_sources', reason=REASON)
ament_packages = pytest.importorskip('ament_index_python.packages', reason=REASON)
rclpy = pytest.importorskip('rclpy', reason=REASON)
rclpy_qos = pytest.importorskip('rclpy.qos', reason=REASON)
sensor_msgs = pytest.importorskip('sensor_msgs.msg', reason=REASON)
rcl_srv = pytest.importorskip('rcl_interfaces.srv', reason=REASON)
point_cloud2 = pytest.importorskip('sensor_msgs_py.point_cloud2', reason=REASON)

from picam_ros.camera.settings import CameraSettings  # noqa: E402, I100
from picam_ros.core.payloads import CLOUD_FIELD_NAMES, image_planes  # noqa: E402
from picam_ros.sources import make_source  # noqa: E402
from picam_ros.sources.synthetic import decode_sequence  # noqa: E402

WIDTH, HEIGHT, FPS, RATE = 640, 480, 25.0, 5.0
GUARD_S = 30.0   # failure guard only, never a measurement
NODE_EXECUTABLES = ('lib/picam_ros/camera_node', 'lib/picam_ros/centroid_node')


def node_processes():
    """Pids of running picam_ros node executables of this test's graph (from /proc).

    Other developers' tests run the same executables on this machine at the same time: a node
    is ours when it carries this process's private ROS_DOMAIN_ID (conftest.py), whoever its
    parent is now (an orphan is re-parented away from us).
    """
    ours = f'ROS_DOMAIN_ID={os.environ.get("ROS_DOMAIN_ID", "")}'.encode()
    found = set()
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / 'cmdline').read_bytes().replace(b'\0', b' ').decode()
                if not any(executable in command for executable in NODE_EXECUTABLES):
                    continue
                environ = (entry / 'environ').read_bytes().split(b'\0')
            except OSError:
                continue
            if ours in environ:
                found.add(int(entry.name))
    return found


BEFORE = node_processes()


@pytest.mark.launch_test
def generate_test_description():
    share = ament_packages.get_package_share_directory('picam_ros')
    stream = launch_actions.IncludeLaunchDescription(
        launch_sources.PythonLaunchDescriptionSource(
            os.path.join(share, 'launch', 'stream.launch.py')),
        launch_arguments=[('source', 'synthetic'), ('stream', 'false'), ('width', str(WIDTH)),
                          ('operator', 'false'), ('height', str(HEIGHT)), ('fps', str(FPS)),
                          ('centroid_rate_hz', str(RATE))])
    return launch.LaunchDescription([stream, launch_testing_actions.ReadyToTest()])


def stamp_of(msg):
    return msg.header.stamp.sec, msg.header.stamp.nanosec


class TestCentroidsFromTheStream(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        rclpy.init()
        cls.node = rclpy.create_node('stream_launch_probe')
        cls.images, cls.clouds = {}, []
        cls.node.create_subscription(
            sensor_msgs.Image, '/camera/image_throttled',
            lambda msg: cls.images.__setitem__(stamp_of(msg), msg),
            rclpy_qos.qos_profile_sensor_data)
        cls.node.create_subscription(sensor_msgs.PointCloud2, '/centroids', cls.clouds.append, 10)
        settings = CameraSettings.from_parameters(
            {'width': WIDTH, 'height': HEIGHT, 'fps': FPS, 'stream.enabled': False})
        cls.scene = make_source(settings.source)

    @classmethod
    def tearDownClass(cls):
        cls.node.destroy_node()
        rclpy.shutdown()

    def spin_until(self, condition):
        deadline = time.monotonic() + GUARD_S
        while time.monotonic() < deadline and not condition():
            rclpy.spin_once(self.node, timeout_sec=0.1)
        return condition()

    def set_parameter(self, name, value):
        client = self.node.create_client(rcl_srv.SetParameters, '/centroids/set_parameters')
        try:
            self.assertTrue(client.wait_for_service(timeout_sec=GUARD_S))
            request = rcl_srv.SetParameters.Request()
            request.parameters = [rclpy.Parameter(name, value=value).to_parameter_msg()]
            future = client.call_async(request)
            rclpy.spin_until_future_complete(self.node, future, timeout_sec=GUARD_S)
            self.assertTrue(future.done(), 'SetParameters timed out')
            return future.result().results[0]
        finally:
            self.node.destroy_client(client)

    def test_centroids_arrive_with_the_documented_fields(self):
        self.assertTrue(self.spin_until(lambda: self.clouds))
        cloud = self.clouds[-1]
        self.assertEqual([field.name for field in cloud.fields], list(CLOUD_FIELD_NAMES))
        self.assertEqual(cloud.header.frame_id, 'camera_optical_frame')
        table = point_cloud2.read_points_numpy(cloud)
        self.assertEqual(table.shape, (cloud.width, len(CLOUD_FIELD_NAMES)))

    def test_centroids_match_the_synthetic_ground_truth(self):
        def matched():
            return [(cloud, self.images[stamp_of(cloud)]) for cloud in self.clouds
                    if stamp_of(cloud) in self.images]

        self.assertTrue(self.spin_until(lambda: len(matched()) >= 3))
        for cloud, image in matched():
            planes = image_planes(image.encoding, image.height, image.width, image.step,
                                  image.data)
            truth = self.scene.ground_truth(decode_sequence(planes.luma))
            points = point_cloud2.read_points(cloud, field_names=['x', 'y', 'area'])
            self.assertEqual(points.shape[0], truth.shape[0])
            self.assertGreater(points.shape[0], 0)
            self.assertLess(np.abs(points['x'] - truth['x']).max(), 0.5)
            self.assertLess(np.abs(points['y'] - truth['y']).max(), 0.5)

    def test_threshold_change_takes_effect_and_invalid_values_are_refused(self):
        self.assertTrue(self.spin_until(lambda: self.clouds and self.clouds[-1].width > 0))
        refused = self.set_parameter('pads.luma_max', 100)
        self.assertFalse(refused.successful)
        self.assertIn('luma_min', refused.reason)
        try:
            self.assertTrue(self.set_parameter('pads.luma_min', 250).successful)
            seen = len(self.clouds)
            # Synthetic pads peak below luma 240, so nothing is keyed any more.
            self.assertTrue(self.spin_until(lambda: len(self.clouds) > seen + 2))
            self.assertEqual([c.width for c in self.clouds[-2:]], [0, 0])
        finally:
            self.assertTrue(self.set_parameter('pads.luma_min', 150).successful)


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):

    def test_every_node_exits_cleanly(self, proc_info):
        launch_testing_asserts.assertExitCodes(proc_info)

    def test_no_node_process_is_left(self, proc_info):
        for info in proc_info:
            self.assertFalse(Path(f'/proc/{info.pid}').exists(), info.process_name)
        self.assertEqual(node_processes() - BEFORE, set())
