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

"""Stopping the nodes as launch does, under load, many times: clean, quiet, bounded.

Ctrl-C on ``ros2 launch`` signals each node twice (the terminal's SIGINT to the process group,
then launch's own); SIGTERM follows when a node is slow. Each run here starts a real node
process that is publishing or processing frames, signals it the same way, and checks that it
ended by itself with status 0 and said nothing about it: no traceback, no KeyboardInterrupt, no
publish on a context that is gone. No time is asserted; the failure guard only stops a hung run.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
import json
import logging
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

import pytest

rclpy = pytest.importorskip(
    'rclpy', reason='rclpy is not installed: the shutdown tests need a sourced ROS 2')

from proctree import descendants, process_gone, wait_until  # noqa: E402, I100
from rclpy.context import Context  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import Image, PointCloud2  # noqa: E402
import stop_harness  # noqa: E402
from stream_fixtures import free_server_ports, require_mediamtx  # noqa: E402

from picam_ros.ros.camera_node import CameraNode  # noqa: E402

pytestmark = pytest.mark.ros

GUARD_S = 30.0   # failure guard only
HARNESS = Path(__file__).resolve().parent.parent / 'launcher_harness.py'
RUNS = 6
DOMAIN = 40 + os.getpid() % 150
CAMERA_ARGS = ['-p', 'width:=640', '-p', 'height:=480', '-p', 'fps:=50.0',
               '-p', 'stream.enabled:=false', '-p', 'throttle_rate_hz:=0.0']
#: Longest time from a stop signal to the exit (loading rclpy under load included).
STOP_BOUND_S = 8.0
#: A node started as ``ros2 run`` starts it: through its console entry point.
ENTRY_POINT = ('import sys; from picam_ros import entry_points; '
               'sys.exit(getattr(entry_points, sys.argv[1])())')
NOISE = ('Traceback', 'KeyboardInterrupt', 'context is invalid', "frame sink 'ros-publisher'",
         'teardown still busy')


@pytest.fixture
def graph():
    """Give a probe node on this test's own domain, and a function that spins it."""
    context = Context()
    rclpy.init(context=context, domain_id=DOMAIN)
    node = rclpy.create_node('shutdown_probe', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)

    def spin_until(condition, timeout=GUARD_S):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not condition():
            executor.spin_once(timeout_sec=0.05)
        return condition()

    yield node, spin_until
    executor.shutdown()
    node.destroy_node()
    rclpy.try_shutdown(context=context)


def start(module: str, *ros_args: str, log) -> subprocess.Popen:
    env = dict(os.environ, ROS_DOMAIN_ID=str(DOMAIN), PYTHONUNBUFFERED='1')
    return subprocess.Popen([sys.executable, '-m', f'picam_ros.ros.{module}', '--ros-args',
                             *ros_args], stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)


def stop_like_launch(process: subprocess.Popen, first: int, second: int) -> int:
    """Signal the group (the terminal), then the node again while it tears down (launch)."""
    os.killpg(process.pid, first)
    # The second signal lands in destroy_node(): wait until the node is in teardown, i.e.
    # its source children are being stopped or gone, but the process still runs.
    time.sleep(0.02)
    if process.poll() is None:
        os.kill(process.pid, second)
    try:
        return process.wait(GUARD_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise AssertionError('the node did not end by itself') from None


def assert_quiet(log_path) -> None:
    text = log_path.read_text(errors='replace')
    found = [noise for noise in NOISE if noise in text]
    assert not found, f'{found} in the node output:\n{text[-3000:]}'


@pytest.mark.parametrize('first, second', [(signal.SIGINT, signal.SIGINT),
                                           (signal.SIGINT, signal.SIGTERM),
                                           (signal.SIGTERM, signal.SIGINT)])
def test_publishing_camera_node_ends_cleanly_and_quietly_when_signalled_twice(
        graph, tmp_path, first, second):
    probe, spin_until = graph
    for run in range(RUNS):
        images = []
        subscription = probe.create_subscription(Image, '/camera/image_raw', images.append,
                                                 qos_profile_sensor_data)
        log_path = tmp_path / f'camera{run}.log'
        with open(log_path, 'wb') as log:
            camera = start('camera_node', *CAMERA_ARGS, log=log)
            try:
                assert spin_until(lambda i=images, c=camera: len(i) >= 5 or c.poll() is not None)
                assert len(images) >= 5, log_path.read_text()
                children = descendants(camera.pid)
                status = stop_like_launch(camera, first, second)
            finally:
                if camera.poll() is None:
                    os.killpg(camera.pid, signal.SIGKILL)
                    camera.wait()
        probe.destroy_subscription(subscription)
        assert status == 0, log_path.read_text()
        assert_quiet(log_path)
        assert all(process_gone(pid) for pid in children)


def test_processing_centroid_node_ends_cleanly_and_quietly_when_signalled_twice(
        graph, tmp_path):
    probe, spin_until = graph
    with open(tmp_path / 'camera.log', 'wb') as camera_log:
        camera = start('camera_node', *CAMERA_ARGS, log=camera_log)
    try:
        for run in range(RUNS):
            clouds = []
            subscription = probe.create_subscription(PointCloud2, '/centroids', clouds.append,
                                                     10)
            log_path = tmp_path / f'centroids{run}.log'
            with open(log_path, 'wb') as log:
                node = start('centroid_node', '-r', 'image:=/camera/image_raw', log=log)
                try:
                    assert spin_until(lambda c=clouds, n=node: len(c) >= 5 or n.poll() is not None)
                    assert len(clouds) >= 5, log_path.read_text()
                    status = stop_like_launch(node, signal.SIGINT, signal.SIGINT)
                finally:
                    if node.poll() is None:
                        os.killpg(node.pid, signal.SIGKILL)
                        node.wait()
            probe.destroy_subscription(subscription)
            assert status == 0, log_path.read_text()
            assert_quiet(log_path)
    finally:
        os.killpg(camera.pid, signal.SIGINT)
        camera.wait(GUARD_S)


def test_a_stop_signal_at_any_moment_of_start_up_ends_the_camera_node_quietly_with_status_0():
    """Stop from the entry point's first line on: SIGINT and SIGTERM alike.

    The moments cover loading rclpy and the messages, init, building the node, capture
    start-up and publishing.
    """
    command = [sys.executable, '-c', ENTRY_POINT, 'camera_node', '--ros-args', *CAMERA_ARGS]
    env = dict(os.environ, ROS_DOMAIN_ID=str(DOMAIN))
    moments = [(round(0.25 * i, 3), 'SIGTERM' if i % 3 == 2 else 'SIGINT') for i in range(17)]
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda m: stop_harness.stop_after(m[0], command, env, m[1]),
                             moments))
    if 'error' in runs[0]:
        pytest.skip(f'the harness cannot run here: {runs[0]["error"]}')
    failures = [run for run in runs
                if run['status'] != 0 or run['stop_s'] > STOP_BOUND_S or run['left']
                or not all(line.startswith(('[INFO]', '[WARN]'))
                           for line in run['stderr'].splitlines())]
    assert not failures, json.dumps(failures, indent=1)
    assert any('synthetic camera' in run['stderr'] for run in runs), 'it must reach capture'


IDLE_NODE = """
import sys
from rclpy.node import Node
from picam_ros.ros.node_runner import run_node

class Idle(Node):
    def __init__(self):
        super().__init__('idle')
        print('built', flush=True)

sys.exit(run_node(Idle, 'idle'))
"""


def test_a_stop_ends_a_node_that_has_nothing_due_to_wake_its_executor():
    # No timer, nothing subscribed: only the stop itself can wake the executor's wait (with
    # rclpy's own handlers a wake could come before the context was down, and was lost).
    env = dict(os.environ, ROS_DOMAIN_ID=str(DOMAIN))
    for sig in (signal.SIGINT, signal.SIGTERM) * 3:
        node = subprocess.Popen([sys.executable, '-c', IDLE_NODE], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert node.stdout.readline() == 'built\n'
            time.sleep(0.2)   # into spin: the stop is then heard by the watcher, not the check
            node.send_signal(sig)
            out, err = node.communicate(timeout=GUARD_S)
        finally:
            if node.poll() is None:
                node.kill()
                node.wait()
        assert node.returncode == 0 and out == '' and err == '', (sig, err)


def test_camera_node_stops_publishing_when_its_context_shuts_down_under_it():
    """Shut the context down under the capture thread, as a stop signal does."""
    context = Context()
    rclpy.init(context=context, domain_id=DOMAIN)
    params = [Parameter(name, value=value) for name, value in
              {'width': 320, 'height': 240, 'fps': 100.0, 'stream.enabled': False}.items()]
    camera = CameraNode(context=context, parameter_overrides=params)
    probe = rclpy.create_node('context_probe', context=context)
    images = []
    probe.create_subscription(Image, '/camera/image_raw', images.append, qos_profile_sensor_data)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(probe)
    try:
        deadline = time.monotonic() + GUARD_S
        while len(images) < 3 and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        assert len(images) >= 3
        context.shutdown()   # what SIGINT does, before main() hears of it
        frames = camera._runtime.stats().frames
        assert wait_until(lambda: camera._runtime.stats().frames >= frames + 20, GUARD_S)
        assert camera._runtime.stats().sink_errors == 0
    finally:
        executor.shutdown()
        camera.destroy_node()
        probe.destroy_node()


def test_streaming_camera_node_stops_cleanly_with_its_children_when_its_launcher_is_killed(
        graph, tmp_path):
    # ros2 launch ended by SIGTERM or SIGKILL leaves the nodes it started running; ours stop
    # as on Ctrl-C (picam_ros.core.shutdown.stop_with_launcher). The harness stands in for launch.
    probe, spin_until = graph
    ports = free_server_ports()
    stream = ['-p', 'stream.enabled:=true', '-p', f'stream.mediamtx_path:={require_mediamtx()}',
              *(arg for name, value in ports.items() for arg in ('-p', f'stream.{name}:={value}'))]
    images = []
    probe.create_subscription(Image, '/camera/image_raw', images.append, qos_profile_sensor_data)
    log_path = tmp_path / 'camera.log'
    env = dict(os.environ, ROS_DOMAIN_ID=str(DOMAIN), PYTHONUNBUFFERED='1')
    with open(log_path, 'wb') as log:
        harness = subprocess.Popen(
            [sys.executable, str(HARNESS), '--', sys.executable, '-m', 'picam_ros.ros.camera_node',
             '--ros-args', '-p', 'width:=640', '-p', 'height:=480', *stream],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env, text=True)
    try:
        camera_pid = json.loads(harness.stdout.readline())['pid']
        assert spin_until(lambda: len(images) >= 5 and len(descendants(camera_pid)) >= 2), (
            log_path.read_text())
        children = descendants(camera_pid)   # MediaMTX and the encoder
        harness.stdin.write('kill the launcher\n')
        harness.stdin.flush()
        report = json.loads(harness.stdout.readline())
    finally:
        harness.kill()
        harness.wait()
    assert report == {'status': 0}, log_path.read_text()
    assert_quiet(log_path)
    assert all(process_gone(pid) for pid in children)


def test_core_log_records_after_the_context_shut_down_still_reach_stderr(capfd):
    # The encoder's and MediaMTX's threads log as they like; Ctrl-C can land just before.
    context = Context()
    rclpy.init(context=context, domain_id=DOMAIN)
    params = [Parameter(name, value=value) for name, value in
              {'width': 320, 'height': 240, 'stream.enabled': False}.items()]
    camera = CameraNode(context=context, parameter_overrides=params)
    # A logger of its own, at INFO and propagating to the node's handler on 'picam_ros' whatever
    # this process imported before (launch's logger class does not propagate).
    core = logging.getLogger('picam_ros.after_shutdown_test')
    core.setLevel(logging.INFO)
    core.propagate = True
    try:
        context.shutdown()
        core.info('encoder connected to rtsp://127.0.0.1/cam')
        err = capfd.readouterr().err
    finally:
        camera.destroy_node()
    assert '[picam_ros.after_shutdown_test] encoder connected to rtsp://127.0.0.1/cam' in err
    assert 'context is invalid' not in err
