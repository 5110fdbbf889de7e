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


"""ROS 2 machine node: both cameras of the pick-and-place machine in one process.

The board camera (down-looking) and the component camera (up-looking, ``--vflip``) each run a
``CameraRuntime``; the composite is made where both frames already are, so no frame crosses
DDS for it. Topics (relative, so a namespace applies): ``board/image_raw``,
``component/image_raw``, ``composite`` (Image), ``board/centroids`` (``pads`` profile),
``component/centroids`` (chroma-gated ``leads`` profile), both PointCloud2 with the engine's
fields (``x``, ``y`` refined from the edge pixels: ``picam_ros.machine.subpixel``) plus
``x_mm, y_mm`` (mm relative to the nozzle), ``x_norm, y_norm`` (the
controller's [-0.5, 0.5) frame) and ``frame_sequence`` (uint32: the frame's sequence number,
so a viewer matches the set to the frame it shows; a header has none); ``alignment``
(PoseStamped, metres and yaw, REP 103);
``board/fresh_centroids`` and ``component/fresh_centroids`` (the answer of ``~/capture_fresh``).
The composite is streamed as its own MediaMTX path (``stream.path``, default ``composite``)
through a third ``CameraRuntime`` whose source is the stream of composed frames.
Alignment runs on its own thread (``picam_ros.machine.align_worker``): the board camera's
capture thread hands it the newest centroid pair and never waits for it.

Services are ``std_srvs/Trigger`` (an ament_python package cannot define .srv files): inputs
are parameters, the result is published on a topic and summarised as JSON in ``message``.
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
import json
import math
from pathlib import Path
import socket
import threading
import time
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
import numpy as np
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import PointCloud2, PointField
from std_msgs.msg import Header
from std_srvs.srv import Trigger

from picam_ros.camera.runtime import CameraRuntime, reported_by_owner, StreamState
from picam_ros.camera.settings import (
    build_runtime,
    camera_parameter_rows,
    CameraSettings,
    viewer_urls,
)
from picam_ros.centroids.engine import KeyingParams
from picam_ros.core.config import ConfigError
from picam_ros.core.frames import Frame, FrameFormat
from picam_ros.core.latest_mailbox import LatestMailbox
from picam_ros.core.pacing import FrameThrottle
from picam_ros.core.params import config_from_rows
from picam_ros.core.payloads import cloud_points
from picam_ros.entry_points import run_as_main
from picam_ros.machine.align_worker import AlignmentWorker, JOIN_TIMEOUT_S
from picam_ros.machine.alignment import Alignment, AlignmentParams
from picam_ros.machine.calibration import (
    CameraGeometry,
    find_nozzle_tip,
    load_machine_calibration,
    MachineCalibration,
    save_machine_calibration,
    scale_from_points,
)
from picam_ros.machine.composite import CompositeParams
from picam_ros.machine.footprint import Footprint, load_footprint
from picam_ros.machine.settings import CAMERAS, machine_parameter_rows, SCENE_FIELDS
from picam_ros.machine.verdict import PASS, Verdict, verdict_values, VerdictParams
from picam_ros.machine.vision import CameraCentroids, MachineVision
from picam_ros.ros.dds_profile import large_frame_warning
from picam_ros.ros.diagnostics import diagnostic_array, diagnostic_status, ERROR, OK, WARN
from picam_ros.ros.image_topic import ImageTopic, stamped
from picam_ros.ros.messages import parameter_descriptor
from picam_ros.ros.node_runner import run_node, warn_about_undeclared, while_context_ok
from picam_ros.sources import FrameTimeout, SourceError, SourceStopped
from picam_ros.sources.synthetic import SyntheticConfig
from picam_ros.stream.encoder import StreamPublisher
from picam_ros.stream.mediamtx import MediaServer, MediaServerUnavailable

NODE_NAME = 'machine'
DIAGNOSTICS_PERIOD_S = 1.0
_EXTRA_FIELDS = ('x_mm', 'y_mm', 'x_norm', 'y_norm')


class _CompositeSource:
    """The composed frames as a frame source, so a ``CameraRuntime`` publishes and streams them."""

    def __init__(self, fmt: FrameFormat) -> None:
        self.format = fmt
        self._mailbox = LatestMailbox([Frame(fmt) for _ in range(3)])
        self.sequence = 0

    def put(self, packed: Any, down: Frame) -> None:
        slot = self._mailbox.free_slot()
        frame = self._mailbox.pool[slot]
        frame.data[:] = packed
        frame.stamp_ns, frame.mono_ns, frame.sequence = down.stamp_ns, down.mono_ns, self.sequence
        self.sequence += 1
        self._mailbox.publish(slot)

    def start(self) -> None:
        self._mailbox.reopen()

    def stop(self) -> None:
        self._mailbox.close()

    def read(self, timeout: float | None = None) -> Frame:
        frame = self._mailbox.take(timeout)
        if frame is None:
            if self._mailbox.closed:
                raise SourceStopped('composite stopped')
            raise FrameTimeout(f'no composite frame within {timeout} s')
        return frame


def machine_cloud(header: Header, result: CameraCentroids) -> PointCloud2:
    """PointCloud2 of the engine's fields, x_mm, y_mm, x_norm, y_norm (float32), frame_sequence.

    ``x``, ``y`` are the sub-pixel positions the mm are made from (``result.points``: edge
    pixels included); area, box and the rest are the engine's.
    """
    base = cloud_points(result.blobs)
    names = base.dtype.names + _EXTRA_FIELDS + ('frame_sequence',)
    points = np.zeros(len(base), [(name, '<u4' if name == 'frame_sequence' else '<f4')
                                  for name in names])
    for name in base.dtype.names:
        points[name] = base[name]
    if len(result.points) == len(points):
        points['x'], points['y'] = result.points[:, 0], result.points[:, 1]
    points['x_mm'], points['y_mm'] = result.mm[:, 0], result.mm[:, 1]
    points['x_norm'], points['y_norm'] = result.normalised[:, 0], result.normalised[:, 1]
    points['frame_sequence'] = result.sequence & 0xFFFFFFFF
    msg = PointCloud2(header=header, height=1, width=len(points), is_bigendian=False,
                      point_step=points.dtype.itemsize, row_step=points.dtype.itemsize *
                      len(points), is_dense=True)
    msg.fields = [PointField(name=name, offset=4 * i, count=1,
                             datatype=PointField.UINT32 if name == 'frame_sequence'
                             else PointField.FLOAT32)
                  for i, name in enumerate(names)]
    msg.data = points.tobytes()
    return msg


def pose_of(header: Header, alignment: Alignment) -> PoseStamped:
    """Return the correction as a pose: metres (REP 103), the yaw about +z as orientation."""
    msg = PoseStamped(header=header)
    msg.pose.position.x = alignment.dx / 1000.0
    msg.pose.position.y = alignment.dy / 1000.0
    half = math.radians(alignment.theta) / 2
    msg.pose.orientation.z, msg.pose.orientation.w = math.sin(half), math.cos(half)
    return msg


def verdict_level(verdict: Verdict) -> bytes:
    """Return the diagnostic level of a verdict: OK only for a pass."""
    return OK if verdict.status == PASS else WARN


def verdict_status(name: str, verdict: Verdict, pads: np.ndarray,
                   extra: dict[str, Any] | None = None) -> Any:
    """One DiagnosticStatus carrying the verdict's key/values (message: verdict and reason)."""
    values = {**verdict_values(verdict, pads), **(extra or {})}
    return diagnostic_status(name, 'alignment', verdict_level(verdict),
                             f'{verdict.status}: {verdict.reason}', values)


class MachineNode(Node):
    """Both cameras, the composite, centroids in mm, alignment and calibration services."""

    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self._runtimes: dict[str, CameraRuntime] = {}
        try:
            self._setup()
        except BaseException:
            self.destroy_node()
            raise

    # -- setup ---------------------------------------------------------------------------
    def _setup(self) -> None:
        self._rows = {row.name: row for row in machine_parameter_rows()}
        for row in self._rows.values():
            self.declare_parameter(row.name, row.default, parameter_descriptor(row))
        values = {name: self.get_parameter(name).value for name in self._rows}
        for name, value in values.items():
            check = self._rows[name].check(value)
            if not check.ok:
                raise ValueError(check.reason)
        self._values = values
        settings = {camera: self._camera_settings(camera, values) for camera in CAMERAS}
        sources = {camera: self._source_config(camera, settings[camera], values)
                   for camera in CAMERAS}
        for camera in CAMERAS:
            self._runtimes[camera] = build_runtime(sources[camera], log=self.get_logger(),
                                                   on_capture_error=reported_by_owner)
        fmt = self._runtimes['board'].format
        up_fmt = self._runtimes['component'].format
        if (fmt.width, fmt.height) != (up_fmt.width, up_fmt.height):
            raise ValueError(f'component.width/height {up_fmt.width}x{up_fmt.height} must '
                             f'equal board.width/height {fmt.width}x{fmt.height} (composite)')
        self._calibration_path = values['calibration_file']
        calibration = self._load_calibration(fmt, up_fmt)
        self._vision = MachineVision(
            calibration, self._build('composite', CompositeParams, values),
            self._build('pads', KeyingParams, values), self._build('leads', KeyingParams, values),
            self._build('alignment', AlignmentParams, values),
            self._build('verdict', VerdictParams, values),
            self._load_footprint(values['footprint_file']))

        self._images = {camera: ImageTopic(self, f'{camera}/image_raw',
                                           settings[camera].encoding, settings[camera].frame_id)
                        for camera in CAMERAS}
        self._composite_topic = ImageTopic(self, 'composite', values['composite.encoding'],
                                           settings['board'].frame_id)
        self._clouds = {camera: self.create_publisher(PointCloud2, f'{camera}/centroids', 10)
                        for camera in CAMERAS}
        self._fresh_clouds = {
            camera: self.create_publisher(PointCloud2, f'{camera}/fresh_centroids', 10)
            for camera in CAMERAS}
        self._alignment_pub = self.create_publisher(PoseStamped, 'alignment', 10)
        self._verdict_pub = self.create_publisher(DiagnosticArray, 'alignment/verdict', 10)
        self._diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._frame_ids = {camera: settings[camera].frame_id for camera in CAMERAS}

        self._throttles = {camera: FrameThrottle(values['centroid_rate_hz']) for camera in CAMERAS}
        self._latest: dict[str, CameraCentroids | None] = dict.fromkeys(CAMERAS)
        self._results_lock = threading.Lock()
        self._last_aligned: tuple[int, int] | None = None
        self._alignment: Alignment | None = None
        self._verdict: tuple[Verdict, np.ndarray] | None = None
        self._alignment_error = ''
        self._alignments = self._alignment_failures = 0
        self._composites = 0
        self._composite_error = ''
        # Alignment runs on its own thread: the board camera's capture never waits for it.
        self._aligner = AlignmentWorker(self._align_off_capture, on_error=self._worker_failed)
        self._aligner.start()

        composite_settings = CameraSettings.from_parameters(
            {**{row.name: values[f'board.{row.name}'] for row in camera_parameter_rows()
                if not row.name.startswith('stream.')},
             **{name: value for name, value in values.items() if name.startswith('stream.')}})
        self._composite_source = _CompositeSource(FrameFormat(fmt.width, fmt.height, 'i420'))
        stream = server = None
        if composite_settings.stream is not None:
            stream = StreamPublisher(composite_settings.stream, self._composite_source.format)
            server = MediaServer(composite_settings.server)
        self._runtimes['composite'] = CameraRuntime(
            self._composite_source, stream=stream, server=server, log=self.get_logger(),
            stream_unavailable=MediaServerUnavailable)
        for camera, sink, name in (('composite', self._composite_topic.publish, 'composite-topic'),
                                   ('board', self._on_board, 'machine-board'),
                                   ('component', self._on_component, 'machine-component')):
            self._runtimes[camera].add_sink(while_context_ok(self.context, sink), name)

        self.add_on_set_parameters_callback(self._on_set_parameters)
        for name, handler in (('~/capture_fresh', self._srv_capture_fresh),
                              ('~/align', self._srv_align),
                              ('~/calibration/find_nozzle', self._srv_find_nozzle),
                              ('~/calibration/set_nozzle', self._srv_set_nozzle),
                              ('~/calibration/set_datum', self._srv_set_datum),
                              ('~/calibration/set_scale', self._srv_set_scale)):
            self.create_service(Trigger, name, handler)
        if self._calibration_loaded:   # else the composite.* parameters stand as given
            self._apply_calibration_offsets(calibration)
        warn_about_undeclared(self, 'machine')
        for runtime in self._runtimes.values():
            runtime.start()
        self.get_logger().info(
            f'machine: board + component {fmt.width}x{fmt.height}, composite on '
            f'{self._composite_topic.publisher.topic_name}, mode {self._vision.composite.mode}')
        if advice := large_frame_warning(fmt.packed_bytes):   # FastDDS would lose most frames
            self.get_logger().warning(advice)
        if composite_settings.stream is not None:   # as the camera node: where to watch it
            for url in viewer_urls(socket.gethostname(), composite_settings.stream,
                                   composite_settings.server):
                self.get_logger().info(f'live view: {url}')
        self._diag_timer = self.create_timer(DIAGNOSTICS_PERIOD_S, self._publish_diagnostics)

    @staticmethod
    def _camera_settings(camera: str, values: dict[str, Any]) -> CameraSettings:
        camera_values = {row.name: values[f'{camera}.{row.name}']
                         for row in camera_parameter_rows() if not row.name.startswith('stream.')}
        camera_values['stream.enabled'] = False   # the composite is the machine's stream
        try:
            return CameraSettings.from_parameters(camera_values)
        except ConfigError as error:
            raise ValueError(f'{camera}.{error}') from None
        except ValueError as error:
            raise ValueError(f'{camera}.{error}') from None

    @staticmethod
    def _source_config(camera: str, settings: CameraSettings, values: dict[str, Any]) -> Any:
        source = settings.source.specific()
        if isinstance(source, SyntheticConfig):
            try:
                source = dataclasses.replace(source, **{
                    field: values[f'{camera}.{field}'] for field in SCENE_FIELDS[camera]})
            except ConfigError as error:
                raise ValueError(f'{camera}.{error}') from None
        return source

    def _build(self, prefix: str, config: type, values: dict[str, Any]) -> Any:
        rows = [row for name, row in self._rows.items() if name.startswith(prefix + '.')
                and row.field in {f.name for f in dataclasses.fields(config)}]
        return config_from_rows(config, rows, values)

    @staticmethod
    def _load_footprint(path: str) -> Footprint | None:
        if not path:
            return None
        try:
            return load_footprint(path)
        except ValueError as error:
            raise ValueError(f'footprint_file: {error}') from None

    def _load_calibration(self, down: FrameFormat, up: FrameFormat) -> MachineCalibration:
        path = self._calibration_path
        self._calibration_loaded = False
        blank = MachineCalibration(CameraGeometry(down.width, down.height),
                                   CameraGeometry(up.width, up.height))
        if not path:
            self.get_logger().warning('calibration_file is not set: uncalibrated (nozzle at '
                                      'the frame centres, 0.01 mm/px); steps are not saved')
            return blank
        if not Path(path).exists():
            self.get_logger().warning(f'calibration_file {path} does not exist yet: '
                                      'uncalibrated until the first calibration step writes it')
            return blank
        calibration = load_machine_calibration(path)
        for name, geometry, fmt in (('down', calibration.down, down), ('up', calibration.up, up)):
            if (geometry.width, geometry.height) != (fmt.width, fmt.height):
                raise ValueError(f'calibration_file {path}: {name} is {geometry.width}x'
                                 f'{geometry.height} but the camera gives {fmt.width}x'
                                 f'{fmt.height}')
        self._calibration_loaded = True
        return calibration

    # -- parameters ------------------------------------------------------------------------
    def _on_set_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        """Validate all changes, then apply them together (all or none)."""
        values = dict(self._values)
        for parameter in parameters:
            row = self._rows.get(parameter.name)
            if row is None:
                continue
            check = row.check(parameter.value)
            if not check.ok:
                return SetParametersResult(successful=False, reason=check.reason)
            values[parameter.name] = parameter.value
        try:
            composite = self._build('composite', CompositeParams, values)
            pads = self._build('pads', KeyingParams, values)
            leads = self._build('leads', KeyingParams, values)
            alignment = self._build('alignment', AlignmentParams, values)
            verdict = self._build('verdict', VerdictParams, values)
            footprint = (self._vision.footprint
                         if values['footprint_file'] == self._values['footprint_file']
                         else self._load_footprint(values['footprint_file']))
        except ValueError as error:
            return SetParametersResult(successful=False, reason=str(error))
        vision = self._vision
        vision.composite, vision.pads, vision.leads, vision.alignment = (
            composite, pads, leads, alignment)
        vision.verdict, vision.footprint = verdict, footprint
        if values['centroid_rate_hz'] != self._values['centroid_rate_hz']:
            self._throttles = {camera: FrameThrottle(values['centroid_rate_hz'])
                               for camera in CAMERAS}
        if values['composite.encoding'] != self._values['composite.encoding']:
            self._composite_topic.encoding = values['composite.encoding']
        self._values = values
        return SetParametersResult(successful=True)

    # -- capture threads -------------------------------------------------------------------
    def _on_board(self, frame: Frame) -> None:
        self._images['board'].publish(frame)
        try:
            planes = self._vision.on_down(frame)
        except ValueError as exc:
            self._composite_error = str(exc)
            planes = None
        if planes is not None:
            self._composite_source.put(self._vision.composite_output, frame)
            self._composites += 1
        if self._throttles['board'].accept(frame.mono_ns):
            self._measured(self._vision.measure_board(frame))

    def _on_component(self, frame: Frame) -> None:
        self._images['component'].publish(frame)
        self._vision.on_up(frame)
        if self._throttles['component'].accept(frame.mono_ns):
            self._measured(self._vision.measure_component(frame))

    def _measured(self, result: CameraCentroids) -> None:
        camera = result.camera
        self._clouds[camera].publish(machine_cloud(
            stamped(result.stamp_ns, self._frame_ids[camera]), result))
        with self._results_lock:
            self._latest[camera] = result
            board, component = self._latest['board'], self._latest['component']
            if board is None or component is None:
                return
            pair = (board.sequence, component.sequence)
            if pair == self._last_aligned or camera != 'board':
                return
            self._last_aligned = pair
        self._aligner.offer(board, component)

    def _align_off_capture(self, board: CameraCentroids, component: CameraCentroids) -> None:
        """Align a pair on the alignment worker; quiet once Ctrl-C has shut the context."""
        if not self.context.ok():
            return
        try:
            self._align_and_publish(board, component)
        except Exception:
            if self.context.ok():
                raise   # a real failure: counted by the worker, reported on /diagnostics

    def _worker_failed(self, message: str) -> None:
        self._alignment_error = f'alignment worker: {message}'
        self._alignment_failures += 1

    def _align_and_publish(self, board: CameraCentroids,
                           component: CameraCentroids) -> Verdict | None:
        """Align, then publish the pose and its verdict with one stamp (None: no alignment)."""
        try:
            alignment = self._vision.align(board, component)
        except (ValueError, LookupError) as exc:
            self._alignment_error = str(exc)
            self._alignment_failures += 1
            return None
        verdict = self._vision.judge(alignment)
        self._alignment, self._alignment_error = alignment, ''
        self._verdict = (verdict, board.mm)
        self._alignments += 1
        header = stamped(max(board.stamp_ns, component.stamp_ns), self._frame_ids['board'])
        self._alignment_pub.publish(pose_of(header, alignment))
        array = diagnostic_array(header.stamp, [verdict_status(
            f'{self.get_name()}: alignment verdict', verdict, board.mm)])
        array.header.frame_id = header.frame_id
        self._verdict_pub.publish(array)
        return verdict

    # -- services --------------------------------------------------------------------------
    def _fresh_pair(self) -> tuple[dict[str, CameraCentroids], dict[str, Any]]:
        """Centroids of both cameras' first (settled) frames after now; raises TimeoutError.

        A timeout names its cause: no frame arrived, or frames arrived and none was still
        (with the measured difference and the threshold).
        """
        waiters = self._vision.request_fresh(time.monotonic_ns(),
                                             self._values['fresh.settle_threshold'],
                                             self._values['fresh.settle_noise_factor'])
        timeout = self._values['fresh.timeout']
        deadline = time.monotonic() + timeout
        try:
            for camera, waiter in waiters.items():
                if not waiter.done.wait(max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(waiter.request.why_not(camera, timeout))
                if waiter.error:
                    raise ValueError(waiter.error)
        finally:
            self._vision.cancel(waiters)
        results = {camera: waiter.result for camera, waiter in waiters.items()}
        summary = {camera: {'sequence': r.sequence, 'stamp_ns': r.stamp_ns, 'count': r.count,
                            'settle_difference': waiters[camera].request.difference,
                            'settle_limit': waiters[camera].request.threshold,
                            'frames_waited': waiters[camera].request.frames_seen}
                   for camera, r in results.items()}
        for camera, result in results.items():
            self._fresh_clouds[camera].publish(machine_cloud(
                stamped(result.stamp_ns, self._frame_ids[camera]), result))
        return results, summary

    def _srv_capture_fresh(self, request: Trigger.Request,
                           response: Trigger.Response) -> Trigger.Response:
        try:
            _, summary = self._fresh_pair()
        except (TimeoutError, ValueError) as exc:
            return _answer(response, False, str(exc))
        return _answer(response, True, json.dumps(summary))

    def _srv_align(self, request: Trigger.Request,
                   response: Trigger.Response) -> Trigger.Response:
        try:
            results, summary = self._fresh_pair()
        except (TimeoutError, ValueError) as exc:
            return _answer(response, False, str(exc))
        verdict = self._align_and_publish(results['board'], results['component'])
        if verdict is None:
            return _answer(response, False, f'alignment failed: {self._alignment_error}')
        values = verdict_values(verdict, results['board'].mm)
        values['residuals_um'] = json.loads(values['residuals_um'])
        return _answer(response, verdict.passed, json.dumps({**values, 'frames': summary}))

    def _srv_find_nozzle(self, request: Trigger.Request,
                         response: Trigger.Response) -> Trigger.Response:
        frame = self._vision.latest_up()
        if frame is None:
            return _answer(response, False, 'no component frame yet')
        try:
            tip = find_nozzle_tip(frame.y)
        except LookupError as exc:
            return _answer(response, False, str(exc))
        calibration = self._vision.calibration.with_up_nozzle(tip.x, tip.y)
        return self._calibrated(response, calibration, {
            'nozzle_x': tip.x, 'nozzle_y': tip.y, 'diameter_px': tip.diameter,
            'roundness': tip.roundness})

    def _click_step(self, response: Trigger.Response, where: str,
                    step: Callable[[float, float], MachineCalibration],
                    keys: tuple[str, str]) -> Trigger.Response:
        """Apply a calibration step taken at the clicked point (calibration.click_x/_y).

        The point is set only when both are >= 0; ``where`` says what the operator clicks.
        """
        x, y = self._values['calibration.click_x'], self._values['calibration.click_y']
        if x < 0 or y < 0:
            return _answer(response, False,
                           f'set calibration.click_x and calibration.click_y to {where} first')
        return self._calibrated(response, step(x, y), dict(zip(keys, (x, y))))

    def _srv_set_nozzle(self, request: Trigger.Request,
                        response: Trigger.Response) -> Trigger.Response:
        return self._click_step(response, 'the nozzle centre in the onlyup view',
                                self._vision.calibration.with_up_nozzle, ('nozzle_x', 'nozzle_y'))

    def _srv_set_datum(self, request: Trigger.Request,
                       response: Trigger.Response) -> Trigger.Response:
        return self._click_step(response, 'the reference mark in the onlydown view',
                                self._vision.calibration.with_down_datum, ('datum_x', 'datum_y'))

    def _srv_set_scale(self, request: Trigger.Request,
                       response: Trigger.Response) -> Trigger.Response:
        points = list(self._values['calibration.scale_points'])
        camera = self._values['calibration.scale_camera']
        if len(points) != 4:
            return _answer(response, False, 'calibration.scale_points: expected [x1, y1, x2, '
                                            f'y2], got {len(points)} values')
        try:
            scale = scale_from_points(points[:2], points[2:],
                                      self._values['calibration.scale_distance_mm'])
        except ValueError as exc:
            return _answer(response, False, f'calibration.scale_points: {exc}')
        return self._calibrated(response, self._vision.calibration.with_scale(camera, scale),
                                {'camera': camera, 'mm_per_pixel': scale})

    def _calibrated(self, response: Trigger.Response, calibration: MachineCalibration,
                    summary: dict[str, Any]) -> Trigger.Response:
        """Apply a calibration step: save the file, move the composite and the crosshair."""
        if self._calibration_path:
            try:
                save_machine_calibration(self._calibration_path, calibration)
            except OSError as exc:
                return _answer(response, False, f'calibration_file {self._calibration_path}: '
                                                f'cannot write ({exc.strerror})')
        self._vision.calibration = calibration
        offsets = self._apply_calibration_offsets(calibration)
        return _answer(response, True, json.dumps({**summary, **offsets,
                                                   'saved': bool(self._calibration_path)}))

    def _apply_calibration_offsets(self, calibration: MachineCalibration) -> dict[str, int]:
        (ox, oy), (nx, ny) = calibration.composite_offset(), calibration.crosshair_offset()
        offsets = {'composite.offset_x': ox, 'composite.offset_y': oy,
                   'composite.nozzle_x': nx, 'composite.nozzle_y': ny}
        self.set_parameters([Parameter(name, value=value) for name, value in offsets.items()])
        return offsets

    # -- diagnostics -----------------------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        statuses = []
        for camera in CAMERAS:
            stats = self._runtimes[camera].stats()
            stale = stats.last_frame_age is None or stats.last_frame_age > 2.0
            level, message = ((ERROR, stats.capture_error) if stats.capture_error else
                              (ERROR, 'no frames') if stale else (OK, f'{stats.fps:.1f} fps'))
            latest = self._latest[camera]
            statuses.append(diagnostic_status(
                f'{self.get_name()}: {camera}', camera, level, message,
                {'fps': f'{stats.fps:.2f}', 'frames': stats.frames, 'drops': stats.drops,
                 'sink errors': stats.sink_errors,
                 'blobs': '' if latest is None else latest.count,
                 'images published': self._images[camera].published}))
        composite = self._runtimes['composite'].stats()
        values = {'mode': self._vision.composite.mode, 'frames': self._composites,
                  'fps': f'{composite.fps:.2f}', 'stream': composite.stream_state.value,
                  'publisher connected': composite.stream_connected,
                  'stream error': composite.stream_error or '',
                  'error': self._composite_error}
        level = (WARN if composite.stream_state in (StreamState.FAILED, StreamState.UNAVAILABLE)
                 else OK)
        statuses.append(diagnostic_status(f'{self.get_name()}: composite', 'composite', level,
                                          values['mode'], values))
        counts = {'alignments': self._alignments, 'failures': self._alignment_failures,
                  'last error': self._alignment_error}
        name = f'{self.get_name()}: alignment'
        if self._verdict is not None and not self._alignment_error:
            verdict, pads = self._verdict
            statuses.append(verdict_status(name, verdict, pads, counts))
        else:
            statuses.append(diagnostic_status(
                name, 'alignment', WARN if self._alignment_error else OK,
                self._alignment_error or 'waiting for centroids', counts))
        self._diag_pub.publish(diagnostic_array(self.get_clock().now().to_msg(), statuses))
        for camera in CAMERAS:
            error = self._runtimes[camera].stats().capture_error
            if error:
                raise SourceError(f'{camera}: {error}')

    # -- teardown --------------------------------------------------------------------------
    def destroy_node(self) -> None:
        """Stop every capture thread and child before the publishers they use go away."""
        try:
            for runtime in self._runtimes.values():
                runtime.stop()
            aligner = getattr(self, '_aligner', None)
            if aligner is not None and not aligner.stop():
                self.get_logger().warning('the alignment worker did not end within '
                                          f'{JOIN_TIMEOUT_S} s')
        finally:
            super().destroy_node()


def _answer(response: Trigger.Response, success: bool, message: str) -> Trigger.Response:
    response.success, response.message = success, message
    return response


def main(args: list[str] | None = None) -> int:
    return run_node(MachineNode, NODE_NAME, args, errors=(SourceError,))


if __name__ == '__main__':
    raise SystemExit(run_as_main(main))
