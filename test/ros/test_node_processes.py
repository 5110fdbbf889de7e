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

"""Both nodes as real processes on a real ROS 2 graph, driven only through ROS interfaces.

Each node is its own process started with ``--ros-args`` (as ``ros2 run`` and launch start it);
the test talks to it the way any other node would: parameters through the node's parameter
services, topics through its own subscribers, health on ``/diagnostics``, and a stop by SIGINT.
Only rclpy and message packages are needed (CI installs them from the Jazzy wheels).
"""

import os
from pathlib import Path
import signal
import subprocess
import sys
import time

import pytest

REASON = 'rclpy is not installed: the node process tests need rclpy and the message packages'
rclpy = pytest.importorskip('rclpy', reason=REASON)

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402, I100
from graph_probe import GraphProbe  # noqa: E402
from proctree import descendants  # noqa: E402
from rcl_interfaces.msg import Parameter as ParameterMsg  # noqa: E402
from rcl_interfaces.msg import ParameterType, ParameterValue  # noqa: E402
from rcl_interfaces.srv import DescribeParameters, GetParameters, SetParameters  # noqa: E402
from rclpy.context import Context  # noqa: E402
from sensor_msgs.msg import Image, PointCloud2  # noqa: E402

from picam_ros.core.shutdown import EXIT_CONFIG_ERROR  # noqa: E402

pytestmark = pytest.mark.ros

GUARD_S = 30.0   # failure guard only, never a measurement
STOP_S = 10.0    # failure guard for a stop (the node's own bound is shorter)
WIDTH, HEIGHT = 320, 240
NODE_MAIN = 'import sys; from picam_ros.ros.{module} import main; sys.exit(main())'


class NodeProcess:
    """One node executable in its own process, its output kept for the failure message.

    It runs outside the source tree (``cwd``), so it imports the picam_ros under test (see
    conftest.py), not the sources.
    """

    def __init__(self, module: str, log_dir: Path, *ros_args: str,
                 env: dict[str, str] | None = None) -> None:
        self.log = log_dir / f'{module}-{len(list(log_dir.glob("*.log")))}.log'
        with open(self.log, 'wb') as log:
            self.process = subprocess.Popen(
                [sys.executable, '-c', NODE_MAIN.format(module=module), '--ros-args',
                 *ros_args], stdout=log, stderr=subprocess.STDOUT, cwd=log_dir, env=env)

    def output(self) -> str:
        return self.log.read_text(errors='replace')[-4000:]

    def interrupt(self) -> int:
        """SIGINT, as Ctrl-C and launch send it; return the exit status."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=STOP_S)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_S)


class Probe(GraphProbe):
    """A node of the test's own, in its own context, that subscribes and calls services."""

    def __init__(self) -> None:
        self.context = Context()
        rclpy.init(context=self.context)
        super().__init__('node_process_probe', context=self.context)

    def set_parameter(self, node: str, name: str, value: ParameterValue):
        request = SetParameters.Request(parameters=[ParameterMsg(name=name, value=value)])
        [result] = self.call(SetParameters, f'{node}/set_parameters', request).results
        return result

    def get_parameter(self, node: str, name: str) -> ParameterValue:
        response = self.call(GetParameters, f'{node}/get_parameters',
                             GetParameters.Request(names=[name]))
        return response.values[0]

    def close(self) -> None:
        super().close()
        rclpy.shutdown(context=self.context)


def integer(value: int) -> ParameterValue:
    return ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=value)


def double(value: float) -> ParameterValue:
    return ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=value)


@pytest.fixture
def probe():
    probe = Probe()
    yield probe
    probe.close()


@pytest.fixture
def start(tmp_path):
    """Start node processes; stop the ones a test left running (kill as a last resort)."""
    started: list[NodeProcess] = []

    def make(module: str, *ros_args: str, env: dict[str, str] | None = None) -> NodeProcess:
        started.append(NodeProcess(module, tmp_path, *ros_args, env=env))
        return started[-1]

    yield make
    for node in started:
        node.kill()


def camera_args(*extra: str) -> list[str]:
    return ['-p', 'source:=synthetic', '-p', f'width:={WIDTH}', '-p', f'height:={HEIGHT}',
            '-p', 'fps:=25.0', '-p', 'stream.enabled:=false', '-p', 'throttle_rate_hz:=5.0',
            '-p', 'diagnostics_period:=0.5', *extra]


def test_camera_process_publishes_frames_of_the_parameters_it_was_started_with(probe, start):
    camera = start('camera_node', *camera_args('-p', 'encoding:=mono8'))
    images = probe.listen(Image, '/camera/image_raw')
    assert probe.spin_until(lambda: len(images) >= 3), camera.output()
    image = images[-1]
    assert (image.encoding, image.width, image.height, image.step) == (
        'mono8', WIDTH, HEIGHT, WIDTH)
    assert len(image.data) == WIDTH * HEIGHT


def test_camera_parameters_are_described_set_and_refused_through_the_services(probe, start):
    camera = start('camera_node', *camera_args())
    described = probe.call(DescribeParameters, '/camera/describe_parameters',
                           DescribeParameters.Request(names=['width']))
    [width] = described.descriptors
    assert width.read_only and width.integer_range, camera.output()
    result = probe.set_parameter('/camera', 'throttle_rate_hz', double(2.0))
    assert result.successful, result.reason
    assert probe.get_parameter('/camera', 'throttle_rate_hz').double_value == 2.0
    refused = probe.set_parameter('/camera', 'width', integer(640))
    assert not refused.successful and refused.reason
    assert probe.get_parameter('/camera', 'width').integer_value == WIDTH


def test_centroid_process_finds_blobs_in_the_camera_process_frames(probe, start):
    camera = start('camera_node', *camera_args())
    centroids = start('centroid_node', '-r', 'image:=/camera/image_throttled')
    clouds = probe.listen(PointCloud2, '/centroids', 10)
    assert probe.spin_until(lambda: any(c.width > 0 for c in clouds)), (
        camera.output() + centroids.output())
    assert {field.name for field in clouds[-1].fields} >= {'x', 'y', 'area'}


def test_a_live_threshold_set_through_the_service_reaches_the_next_clouds(probe, start):
    start('camera_node', *camera_args())
    centroids = start('centroid_node', '-r', 'image:=/camera/image_throttled')
    clouds = probe.listen(PointCloud2, '/centroids', 10)
    assert probe.spin_until(lambda: clouds and clouds[-1].width > 0), centroids.output()
    # Synthetic pads peak below luma 240: nothing is keyed any more.
    result = probe.set_parameter('/centroids', 'pads.luma_min', integer(250))
    assert result.successful, result.reason
    seen = len(clouds)
    assert probe.spin_until(lambda: len(clouds) > seen + 2 and clouds[-1].width == 0)
    refused = probe.set_parameter('/centroids', 'pads.luma_min', integer(300))
    assert not refused.successful and 'luma_min' in refused.reason


def test_both_processes_report_on_diagnostics(probe, start):
    start('camera_node', *camera_args())
    start('centroid_node', '-r', 'image:=/camera/image_throttled',
          '-p', 'diagnostics_period:=0.5')
    arrays = probe.listen(DiagnosticArray, '/diagnostics', 10)

    def names():
        return {status.name for array in arrays for status in array.status}

    assert probe.spin_until(lambda: any(n.endswith(': centroids') for n in names())
                            and any('camera' in n and 'centroids' not in n for n in names()))
    statuses = [status for array in arrays for status in array.status]
    assert all(status.hardware_id for status in statuses)


def test_sigint_ends_both_processes_with_status_0_and_no_traceback(probe, start):
    camera = start('camera_node', *camera_args())
    centroids = start('centroid_node', '-r', 'image:=/camera/image_throttled')
    clouds = probe.listen(PointCloud2, '/centroids', 10)
    assert probe.spin_until(lambda: clouds), camera.output() + centroids.output()
    assert centroids.interrupt() == 0, centroids.output()
    assert camera.interrupt() == 0, camera.output()
    assert 'Traceback' not in camera.output() + centroids.output()


def test_sigint_stops_the_ffmpeg_source_child_with_the_node(probe, start):
    camera = start('camera_node', '-p', 'source:=ffmpeg', '-p', f'width:={WIDTH}',
                   '-p', f'height:={HEIGHT}', '-p', 'fps:=25.0', '-p', 'stream.enabled:=false',
                   '-p', f'input:=lavfi:testsrc2=size={WIDTH}x{HEIGHT}:rate=25')
    images = probe.listen(Image, '/camera/image_raw')
    assert probe.spin_until(lambda: images), camera.output()
    children = descendants(camera.process.pid)
    assert children, 'the ffmpeg source runs as a child process'
    assert camera.interrupt() == 0, camera.output()
    deadline = time.monotonic() + STOP_S
    while time.monotonic() < deadline and descendants_alive(children):
        time.sleep(0.05)
    assert not descendants_alive(children)


def descendants_alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0]
        except OSError:
            continue
        if state != 'Z':
            alive.add(pid)
    return alive


def test_bad_parameters_end_the_process_with_one_line_and_the_config_error_status(start):
    camera = start('camera_node', *camera_args('-p', 'encoding:=yuyv_of_dreams'))
    status = camera.process.wait(timeout=GUARD_S)
    lines = [line for line in camera.output().splitlines() if line.strip()]
    assert status == EXIT_CONFIG_ERROR, camera.output()   # not a camera loss: no respawn
    assert 'Traceback' not in camera.output() and any('encoding' in line for line in lines)


def stock_fastdds() -> dict[str, str]:
    """Return this process's environment without any RMW or FastDDS profile choice.

    Read when a test runs, not at import: the ROS domain of the session is set after collection
    has begun, and a child on another domain would never be seen.
    """
    return {name: value for name, value in os.environ.items()
            if name not in ('RMW_IMPLEMENTATION', 'FASTRTPS_DEFAULT_PROFILES_FILE',
                            'FASTDDS_DEFAULT_PROFILES_FILE')}


def camera_reported(probe):
    """Return a condition: the camera node has published a /diagnostics report."""
    arrays = probe.listen(DiagnosticArray, '/diagnostics', 10)
    return lambda: any(status.name.endswith(': camera') for array in arrays
                       for status in array.status)


def test_camera_on_stock_fastdds_says_once_how_to_keep_large_frames(probe, start):
    big = ['-p', 'width:=1024', '-p', 'height:=1024', '-p', 'stream.enabled:=false']
    camera = start('camera_node', *big, env=stock_fastdds())
    # Up and past its start-up log once it reports (stock FastDDS may deliver no large image).
    assert probe.spin_until(camera_reported(probe)), camera.output()
    assert camera.interrupt() == 0
    advice = [line for line in camera.output().splitlines()
              if 'FASTRTPS_DEFAULT_PROFILES_FILE=' in line]
    assert len(advice) == 1 and 'fastdds_large_frames.xml' in advice[0], camera.output()


def test_camera_with_a_profile_set_or_small_frames_gives_no_dds_advice(probe, start):
    profile = {**stock_fastdds(), 'FASTRTPS_DEFAULT_PROFILES_FILE': str(
        Path(__file__).parents[2] / 'config' / 'fastdds_large_frames.xml')}
    for env, size in ((profile, 1024), (stock_fastdds(), 256)):
        camera = start('camera_node', '-p', f'width:={size}', '-p', f'height:={size}',
                       '-p', 'stream.enabled:=false', env=env)
        assert probe.spin_until(camera_reported(probe)), camera.output()
        assert camera.interrupt() == 0
        assert 'DEFAULT_PROFILES_FILE' not in camera.output()
