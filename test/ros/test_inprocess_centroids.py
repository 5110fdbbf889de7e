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

"""The camera node's in-process centroids on a real ROS 2 graph: a real process, real topics.

The camera node runs as its own process (``--ros-args``) on a private ``ROS_DOMAIN_ID``; this
test process is the subscriber and parameter client. The synthetic scene is kept still
(``drift_x = drift_y = 0``) so every frame has the same exact ground truth.
"""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

REASON = 'rclpy is not installed: the in-process centroid tests need a sourced ROS 2'
rclpy = pytest.importorskip('rclpy', reason=REASON)
rclpy_parameter = pytest.importorskip('rclpy.parameter', reason=REASON)
rclpy_parameter_client = pytest.importorskip('rclpy.parameter_client', reason=REASON)
rclpy_qos = pytest.importorskip('rclpy.qos', reason=REASON)
sensor_msgs = pytest.importorskip('sensor_msgs.msg', reason=REASON)
diagnostic_msgs = pytest.importorskip('diagnostic_msgs.msg', reason=REASON)

from graph_probe import GraphProbe  # noqa: E402, I100

from picam_ros.core.payloads import CLOUD_DTYPE  # noqa: E402
from picam_ros.core.shutdown import EXIT_CONFIG_ERROR  # noqa: E402
from picam_ros.sources.synthetic import SyntheticConfig, SyntheticSource  # noqa: E402

pytestmark = pytest.mark.ros

GUARD_S = 30.0   # failure guard only, never a measurement
WIDTH, HEIGHT, FPS = 640, 480, 25.0
RATE_HZ = 10.0
STILL = {'width': WIDTH, 'height': HEIGHT, 'fps': FPS, 'drift_x': 0.0, 'drift_y': 0.0,
         'stream.enabled': False, 'centroids.enabled': True, 'centroids.rate_hz': RATE_HZ}
#: A domain of this test process's own, shared with the nodes it starts.
DOMAIN_ID = str(1 + (os.getpid() * 7) % 200)


def ros_value(value: object) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, list):
        return '[' + ','.join(map(str, value)) + ']'
    return str(value)


class CameraProcess:
    """``camera_node`` as a child process with the given parameters."""

    def __init__(self, **parameters: object) -> None:
        argv = [sys.executable, '-m', 'picam_ros.ros.camera_node', '--ros-args']
        for name, value in parameters.items():
            argv += ['-p', f'{name}:={ros_value(value)}']
        env = {**os.environ, 'ROS_DOMAIN_ID': DOMAIN_ID}
        self.process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            output, _ = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate(timeout=10)
        return output


class Probe(GraphProbe):
    """A subscriber / parameter client node in this process, on the camera's domain."""

    def __init__(self) -> None:
        super().__init__('inprocess_probe')

    def listen(self, msg_type: type, topic: str, qos: object = 10) -> list:
        return super().listen(msg_type, topic, qos)

    def set_parameters(self, **values: object) -> list:
        client = rclpy_parameter_client.AsyncParameterClient(self.node, '/camera')
        assert client.wait_for_services(timeout_sec=GUARD_S)
        future = client.set_parameters(
            [rclpy_parameter.Parameter(name, value=value) for name, value in values.items()])
        assert self.spin_until(future.done, GUARD_S)
        return future.result().results


@pytest.fixture(scope='module')
def ros():
    previous = os.environ.get('ROS_DOMAIN_ID')
    os.environ['ROS_DOMAIN_ID'] = DOMAIN_ID
    rclpy.init()
    yield
    rclpy.try_shutdown()
    if previous is None:   # later modules see the session's domain again
        os.environ.pop('ROS_DOMAIN_ID', None)
    else:
        os.environ['ROS_DOMAIN_ID'] = previous


@pytest.fixture
def probe(ros):
    probe = Probe()
    yield probe
    probe.close()


@pytest.fixture
def camera():
    started: list[CameraProcess] = []

    def start(**overrides: object) -> CameraProcess:
        process = CameraProcess(**{**STILL, **overrides})
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def points(cloud) -> np.ndarray:
    assert [f.name for f in cloud.fields] == list(CLOUD_DTYPE.names)
    assert cloud.point_step == CLOUD_DTYPE.itemsize and not cloud.is_bigendian
    return np.frombuffer(bytes(cloud.data), dtype=CLOUD_DTYPE, count=cloud.width)


def stamp_ns(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def ground_truth() -> np.ndarray:
    config = SyntheticConfig(width=WIDTH, height=HEIGHT, fps=FPS, drift_x=0.0, drift_y=0.0)
    return SyntheticSource(config).ground_truth(0)


def camera_status(array, suffix: str):
    return next((s for s in array.status if s.name.endswith(suffix)), None)


def test_clouds_carry_exactly_the_synthetic_pads(probe, camera):
    camera(frame_id='board_optical')
    clouds = probe.listen(sensor_msgs.PointCloud2, '/centroids')
    assert probe.spin_until(lambda: len(clouds) >= 3)
    truth = ground_truth()
    for cloud in clouds[-3:]:
        got = points(cloud)
        assert cloud.header.frame_id == 'board_optical'
        assert 0 < time.time_ns() - stamp_ns(cloud) < 60 * 10**9   # a capture time
        assert got.shape[0] == truth.shape[0]
        np.testing.assert_array_equal(got['area'], truth['area'])
        np.testing.assert_allclose(got['x'], truth['x'], atol=1e-3)
        np.testing.assert_allclose(got['y'], truth['y'], atol=1e-3)
        for name in ('bbox_x', 'bbox_y', 'bbox_w', 'bbox_h'):
            np.testing.assert_array_equal(got[name], truth[name])


def test_centroids_come_at_the_configured_rate_by_capture_time(probe, camera):
    camera()
    clouds = probe.listen(sensor_msgs.PointCloud2, '/centroids')
    assert probe.spin_until(lambda: len(clouds) >= 2)
    first = len(clouds)
    assert probe.spin_until(lambda: len(clouds) >= first + 40)
    stamps = [stamp_ns(c) for c in clouds[first:]]
    rate = (len(stamps) - 1) * 1e9 / (stamps[-1] - stamps[0])
    assert rate == pytest.approx(RATE_HZ, rel=0.05)


def test_no_image_is_serialised_while_image_raw_has_no_subscriber(probe, camera):
    camera()
    clouds = probe.listen(sensor_msgs.PointCloud2, '/centroids')
    diagnostics = probe.listen(diagnostic_msgs.DiagnosticArray, '/diagnostics')

    def reported():
        arrays = [a for a in diagnostics if camera_status(a, 'camera: camera')]
        return len(clouds) >= 10 and len(arrays) >= 2

    assert probe.spin_until(reported)
    status = camera_status(diagnostics[-1], 'camera: camera') or camera_status(
        diagnostics[-2], 'camera: camera')
    values = {kv.key: kv.value for kv in status.values}
    assert int(values['frames']) > 10
    assert values['images published'] == '0' and values['throttled images published'] == '0'


def test_diagnostics_report_the_centroid_pipeline_like_the_centroid_node(probe, camera):
    camera()
    diagnostics = probe.listen(diagnostic_msgs.DiagnosticArray, '/diagnostics')
    assert probe.spin_until(lambda: any(
        (s := camera_status(a, 'camera: centroids')) and s.level == b'\x00'
        and float({kv.key: kv.value for kv in s.values}['processed rate (Hz)']) > 0
        for a in diagnostics))
    status = next(s for a in reversed(diagnostics)
                  if (s := camera_status(a, 'camera: centroids')))
    values = {kv.key: kv.value for kv in status.values}
    assert status.name == '/camera: centroids'
    assert float(values['processed rate (Hz)']) == pytest.approx(RATE_HZ, rel=0.25)
    assert float(values['received rate (Hz)']) == pytest.approx(FPS, rel=0.25)
    assert int(values['pads: blobs']) == ground_truth().shape[0]
    assert values['errors'] == '0'


def test_keying_and_rate_change_live_and_bad_values_are_refused(probe, camera):
    camera()
    clouds = probe.listen(sensor_msgs.PointCloud2, '/centroids')
    assert probe.spin_until(lambda: len(clouds) >= 1)
    truth = ground_truth()
    threshold = int(np.median(truth['area']))
    results = probe.set_parameters(**{'pads.min_area': threshold, 'centroids.rate_hz': 5.0})
    assert all(r.successful for r in results)
    # A cloud from a frame captured after the change has only the large blobs.
    changed = time.time_ns() + 200_000_000
    assert probe.spin_until(lambda: any(stamp_ns(c) > changed for c in clouds))
    latest = points(clouds[-1])
    assert latest.shape[0] == np.count_nonzero(truth['area'] >= threshold)
    first = len(clouds)
    assert probe.spin_until(lambda: len(clouds) >= first + 15)
    stamps = [stamp_ns(c) for c in clouds[first:]]
    assert (len(stamps) - 1) * 1e9 / (stamps[-1] - stamps[0]) == pytest.approx(5.0, rel=0.05)

    (refused,) = probe.set_parameters(**{'pads.luma_max': 100})   # below luma_min (150)
    assert not refused.successful and 'luma' in refused.reason
    (refused,) = probe.set_parameters(**{'centroids.rate_hz': -1.0})
    assert not refused.successful


def test_debug_image_is_published_only_to_a_subscriber(probe, camera):
    camera()
    clouds = probe.listen(sensor_msgs.PointCloud2, '/centroids')
    assert probe.spin_until(lambda: len(clouds) >= 3)
    assert probe.node.count_subscribers('/debug_image') == 0
    images = probe.listen(sensor_msgs.Image, '/debug_image', rclpy_qos.QoSProfile(depth=1))
    assert probe.spin_until(lambda: len(images) >= 1)
    image = images[-1]
    assert (image.encoding, image.width, image.height) == ('bgr8', WIDTH, HEIGHT)
    assert len(image.data) == 3 * WIDTH * HEIGHT


def test_every_profile_publishes_on_its_own_topic(probe, camera):
    camera(**{'profiles': ['pads', 'big'], 'big.min_area': 400})
    pads = probe.listen(sensor_msgs.PointCloud2, '/centroids')
    big = probe.listen(sensor_msgs.PointCloud2, '/big/centroids')
    assert probe.spin_until(lambda: pads and big)
    truth = ground_truth()
    assert points(pads[-1]).shape[0] == truth.shape[0]
    assert points(big[-1]).shape[0] == np.count_nonzero(truth['area'] >= 400)


def test_a_profile_named_like_a_camera_parameter_group_is_refused_in_one_line(camera):
    process = camera(profiles=['stream'])
    output = process.process.communicate(timeout=GUARD_S)[0]
    assert process.process.returncode == EXIT_CONFIG_ERROR
    assert "'stream' cannot name a keying profile" in output
    assert 'Traceback' not in output


def test_sigint_ends_the_node_cleanly_while_every_frame_is_processed(probe, camera):
    process = camera(**{'centroids.rate_hz': 0.0})
    clouds = probe.listen(sensor_msgs.PointCloud2, '/centroids')
    assert probe.spin_until(lambda: len(clouds) >= 10)
    output = process.stop()
    assert process.process.returncode == 0, output[-2000:]
    assert 'Traceback' not in output and 'still busy' not in output


def installed_launch_files() -> bool:
    try:
        from ament_index_python.packages import get_package_share_directory
        import launch  # noqa: F401
    except ImportError:
        return False
    try:
        share = get_package_share_directory('picam_ros')
    except (LookupError, ValueError, OSError):   # OSError: no AMENT_PREFIX_PATH at all
        return False
    return os.path.isfile(os.path.join(share, 'launch', 'stream.launch.py'))


@pytest.mark.skipif(not installed_launch_files(),
                    reason='launch and an installed picam_ros (colcon build, sourced) needed')
def test_stream_launch_inprocess_runs_no_centroid_node_and_centroids_flow(probe):
    argv = ['ros2', 'launch', 'picam_ros', 'stream.launch.py', 'centroids:=inprocess',
            'stream:=false', 'operator:=false', 'respawn:=false', f'width:={WIDTH}',
            f'height:={HEIGHT}', f'centroid_rate_hz:={RATE_HZ}']
    launched = subprocess.Popen(argv, env={**os.environ, 'ROS_DOMAIN_ID': DOMAIN_ID},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
    try:
        clouds = probe.listen(sensor_msgs.PointCloud2, '/centroids')
        assert probe.spin_until(lambda: len(clouds) >= 2)
        first = len(clouds)
        assert probe.spin_until(lambda: len(clouds) >= first + 20)
        stamps = [stamp_ns(c) for c in clouds[first:]]
        assert (len(stamps) - 1) * 1e9 / (stamps[-1] - stamps[0]) == pytest.approx(
            RATE_HZ, rel=0.05)
        names = probe.node.get_node_names()
        assert 'camera' in names and 'centroids' not in names
    finally:
        launched.send_signal(signal.SIGINT)
        try:
            output = launched.communicate(timeout=GUARD_S)[0]
        except subprocess.TimeoutExpired:
            launched.kill()
            output = launched.communicate(timeout=GUARD_S)[0]
    assert launched.returncode == 0, output[-2000:]
