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

"""ROS 2 camera node: parameters, topics and diagnostics around CameraRuntime.

No capture logic lives here. The runtime's capture thread reads frames and calls the sink this
node registers, and the sink publishes from that thread. That is safe in rclpy:
``Publisher.publish`` holds the GIL and the publisher's handle for the whole call, and
``rcl_publish`` is documented thread-safe for distinct publisher/message pairs
(rcl/publisher.h); the node destroys its publishers only after the runtime, and with it the
capture thread, has stopped. Image topics are converted and published only while they have
subscribers, because rclpy serialises every message it publishes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
import logging
import socket
import sys
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import CameraInfo, CompressedImage
from sensor_msgs.srv import SetCameraInfo
from std_msgs.msg import Header

from picam_ros.camera.camera_info import (
    calibration_for,
    calibration_from_camera_info,
    CalibrationError,
    CameraCalibration,
    fill_camera_info,
    save_calibration,
)
from picam_ros.camera.compression import CompressionConfig, JpegWorker
from picam_ros.camera.compression import UNAVAILABLE as JPEG_UNAVAILABLE
from picam_ros.camera.runtime import (
    CameraRuntime,
    reported_by_owner,
    RuntimeStats,
    StreamState,
)
from picam_ros.camera.settings import (
    apply_controls,
    build_runtime,
    camera_parameter_rows,
    CameraSettings,
    compression_from_parameters,
    LIVE_PARAMETERS,
    source_diagnostics,
    viewer_urls,
)
from picam_ros.core.frames import Frame
from picam_ros.core.pacing import FrameThrottle
from picam_ros.entry_points import run_as_main
from picam_ros.ros.dds_profile import large_frame_warning
from picam_ros.ros.diagnostics import diagnostic_array, diagnostic_status, ERROR, OK, WARN
from picam_ros.ros.image_topic import ImageTopic, stamped
from picam_ros.ros.inprocess_centroids import InprocessCentroids
from picam_ros.ros.messages import parameter_descriptor
from picam_ros.ros.node_runner import run_node, warn_about_undeclared, while_context_ok
from picam_ros.sources import SourceConfig, SourceError

NODE_NAME = 'camera'
#: qos.reliability values (camera_runtime.RELIABILITIES) as rclpy policies.
RELIABILITY = {'best_effort': ReliabilityPolicy.BEST_EFFORT,
               'reliable': ReliabilityPolicy.RELIABLE}
DIAGNOSTICS_PERIOD_S = 1.0


@dataclass(frozen=True)
class _Output:
    """What the capture thread needs per frame; swapped whole when a parameter changes."""

    encoding: str
    frame_id: str
    calibration: CameraCalibration
    camera_info: CameraInfo
    throttle: FrameThrottle
    compression: CompressionConfig
    compressed_throttle: FrameThrottle


class _RosLogHandler(logging.Handler):
    """Forward the core modules' ``logging`` records (process, streaming) to the node's logger.

    Records come from the core's threads (encoder, MediaMTX supervisor), which may log while the
    context is shutting down (Ctrl-C as the encoder connects). The node's logger would then fail
    to publish to /rosout ("publisher's context is invalid"); such a record goes to stderr only.
    """

    def __init__(self, logger: Any, context: Any) -> None:
        super().__init__(logging.INFO)
        self._logger = logger
        self._context = context

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = f'[{record.name}] {record.getMessage()}'
            if not self._context.ok():
                sys.stderr.write(f'[{record.levelname}] [{self._logger.name}]: {message}\n')
            elif record.levelno >= logging.ERROR:
                self._logger.error(message)
            elif record.levelno >= logging.WARNING:
                self._logger.warning(message)
            else:
                self._logger.info(message)
        except Exception:  # noqa: BLE001 - logging must never raise into the caller
            self.handleError(record)


class CameraNode(Node):
    """Publishes ``~/image_raw``, ``~/image_throttled``, ``~/camera_info`` and /diagnostics."""

    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self._runtime: CameraRuntime | None = None
        self._jpeg: JpegWorker | None = None
        self._centroids: InprocessCentroids | None = None
        self._log_handler = _RosLogHandler(self.get_logger(), self.context)
        core_logger = logging.getLogger('picam_ros')
        core_logger.addHandler(self._log_handler)
        if core_logger.level == logging.NOTSET:
            core_logger.setLevel(logging.INFO)
        try:
            self._setup()
        except BaseException:
            self.destroy_node()   # no thread, child or log handler outlives a failed start
            raise

    def _setup(self) -> None:
        self._rows = {row.name: row for row in camera_parameter_rows()}
        for row in self._rows.values():
            self.declare_parameter(row.name, row.default, parameter_descriptor(row))
        settings = CameraSettings.from_parameters(
            {name: self.get_parameter(name).value for name in self._rows},
            tuple(self._rows.values()))

        def qos() -> QoSProfile:
            # qos.* are the defaults, qos_overrides.<topic>.publisher.* override them per topic
            # (rclpy applies an override to the profile it is given: one profile each).
            return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=settings.qos_depth,
                              reliability=RELIABILITY[settings.qos_reliability],
                              durability=DurabilityPolicy.VOLATILE)

        overridable = {'qos_overriding_options': QoSOverridingOptions.with_default_policies()}

        def image_topic(topic: str) -> ImageTopic:
            return ImageTopic(self, topic, settings.encoding, settings.frame_id, qos(),
                              **overridable)

        self._image = image_topic('~/image_raw')
        self._throttled = image_topic('~/image_throttled')
        self._compressed_pub = self.create_publisher(CompressedImage, '~/image_raw/compressed',
                                                     qos(), **overridable)
        self._info_pub = self.create_publisher(CameraInfo, '~/camera_info', qos(), **overridable)
        self._diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)

        self._runtime = build_runtime(settings.source_config(), stream=settings.stream,
                                      server=settings.server, log=self.get_logger(),
                                      on_capture_error=reported_by_owner)
        fmt = self._runtime.format
        calibration = self._load_calibration(settings.camera_info_url, fmt.width, fmt.height,
                                             at_startup=True)
        self._output = _Output(settings.encoding, settings.frame_id, calibration,
                               self._camera_info(calibration),
                               FrameThrottle(settings.throttle_rate_hz), settings.compression,
                               FrameThrottle(settings.compression.rate_hz))
        self.compressed_published = 0
        if JPEG_UNAVAILABLE is None:
            self._jpeg = JpegWorker(fmt, self._publish_compressed,
                                    full_range=getattr(self._runtime.source, 'full_range', False))
        else:
            self.get_logger().warning(JPEG_UNAVAILABLE)
        self._camera_info_url = settings.camera_info_url
        self._set_info_srv = self.create_service(SetCameraInfo, '~/set_camera_info',
                                                 self._on_set_camera_info)
        self._last_counts = (0, 0, 0)   # drops, source restarts, sink errors at the last report
        self._hardware_id = self._describe_source(settings.source)
        # No frame for this long means the camera stalled (a slow camera gets three periods).
        self._stale_after = max(2 * DIAGNOSTICS_PERIOD_S, 3.0 / settings.source.fps)
        if settings.centroids_enabled:
            # First sink: its offer is a cheap copy, the image publisher's serialisation is not.
            self._centroids = InprocessCentroids(
                self, fmt=fmt, rate_hz=settings.centroids_rate_hz, fps=settings.source.fps,
                frame_id=lambda: self._output.frame_id, rows=self._rows.values())
            self._runtime.add_sink(self._centroids.offer, 'centroids')
        self._runtime.add_sink(while_context_ok(self.context, self._publish), 'ros-publisher')
        self.add_on_set_parameters_callback(self._on_set_parameters)
        # After every declaration (the in-process centroids add <profile>.* parameters).
        warn_about_undeclared(self, 'camera')

        self._runtime.start()
        self.get_logger().info(
            f'{settings.source.source} camera {fmt.width}x{fmt.height} @ '
            f'{settings.source.fps:g} fps, {settings.encoding} on '
            f'{self._image.publisher.topic_name}')
        if advice := large_frame_warning(fmt.packed_bytes):   # FastDDS would lose most frames
            self.get_logger().warning(advice)
        if settings.stream is not None:
            for url in viewer_urls(socket.gethostname(), settings.stream, settings.server):
                self.get_logger().info(f'live view: {url}')
        self._diag_timer = self.create_timer(DIAGNOSTICS_PERIOD_S, self._publish_diagnostics)

    # -- configuration ---------------------------------------------------------------------
    @staticmethod
    def _describe_source(source: SourceConfig) -> str:
        if source.source == 'rpicam':
            return f'rpicam-vid --camera {source.camera}'
        if source.source == 'ffmpeg':
            return f'ffmpeg -i {source.input}'
        return f'synthetic (seed {source.seed})'

    def _load_calibration(self, url: str, width: int, height: int,
                          at_startup: bool = False) -> CameraCalibration:
        """Startup is forgiving (uncalibrated + error); a live change is rejected instead."""
        try:
            calibration, warning = calibration_for(url, width, height, self.get_name())
        except CalibrationError as exc:
            if not at_startup:
                raise
            self.get_logger().error(f'{exc}; publishing an uncalibrated camera_info')
            return CameraCalibration.uncalibrated(width, height, self.get_name())
        if warning:
            self.get_logger().warning(warning)
        return calibration

    @staticmethod
    def _camera_info(calibration: CameraCalibration) -> CameraInfo:
        return fill_camera_info(CameraInfo(), calibration)

    def _on_set_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        """Validate live changes together, then apply them in one swap (all or none).

        Read-only parameters never get here: rclpy rejects them against their descriptor.
        """
        changes: dict[str, Any] = {}
        fmt = self._runtime.format
        centroids = None
        if self._centroids is not None:
            centroids = self._centroids.propose({p.name: p.value for p in parameters})
            if not centroids.ok:
                return SetParametersResult(successful=False, reason=centroids.reason)
        for parameter in parameters:
            row = self._rows.get(parameter.name)
            if (row is None or parameter.name not in LIVE_PARAMETERS
                    or parameter.name.startswith('centroids.')):
                continue
            check = row.check(parameter.value)
            if not check.ok:
                return SetParametersResult(successful=False, reason=check.reason)
            if parameter.name.startswith(('controls.', 'compressed.')):
                continue   # applied together below (controls: one rpicam-vid restart)
            if parameter.name == 'throttle_rate_hz':
                changes['throttle'] = FrameThrottle(parameter.value)
            elif parameter.name == 'camera_info_url':
                try:
                    calibration = self._load_calibration(parameter.value, fmt.width,
                                                         fmt.height)
                except CalibrationError as exc:
                    return SetParametersResult(successful=False, reason=str(exc))
                changes['calibration'] = calibration
                changes['camera_info'] = self._camera_info(calibration)
                self._camera_info_url = parameter.value
            elif parameter.name == 'frame_id' and not parameter.value.strip():
                return SetParametersResult(successful=False, reason='frame_id must not be empty')
            else:
                changes[parameter.name] = parameter.value
        compressed = {p.name: p.value for p in parameters if p.name.startswith('compressed.')}
        if compressed:
            values = {name: self.get_parameter(name).value for name in self._rows
                      if name.startswith('compressed.')}
            try:
                compression = compression_from_parameters({**values, **compressed})
            except ValueError as exc:
                return SetParametersResult(successful=False, reason=str(exc))
            changes['compression'] = compression
            changes['compressed_throttle'] = FrameThrottle(compression.rate_hz)
        controls = {p.name: p.value for p in parameters if p.name.startswith('controls.')}
        if controls:
            values = {name: self.get_parameter(name).value for name in self._rows
                      if name.startswith('controls.')}
            reason = apply_controls(self._runtime.source, {**values, **controls})
            if reason is not None:
                return SetParametersResult(successful=False, reason=reason)
        if changes:
            self._output = dataclasses.replace(self._output, **changes)
        if centroids is not None:
            self._centroids.apply(centroids)
        return SetParametersResult(successful=True)

    def _on_set_camera_info(self, request: SetCameraInfo.Request,
                            response: SetCameraInfo.Response) -> SetCameraInfo.Response:
        """Save cameracalibrator's commit to camera_info_url and publish it at once."""
        fmt = self._runtime.format
        try:
            calibration = calibration_from_camera_info(request.camera_info, self.get_name())
            calibration.check_size(fmt.width, fmt.height)
            path = save_calibration(calibration, self._camera_info_url, self.get_name())
        except CalibrationError as exc:
            response.success = False
            response.status_message = str(exc)
            self.get_logger().error(f'set_camera_info: {exc}')
            return response
        calibration = dataclasses.replace(calibration, source=str(path))
        self._output = dataclasses.replace(self._output, calibration=calibration,
                                           camera_info=self._camera_info(calibration))
        now = self._camera_info(calibration)   # the capture thread owns the other's header
        now.header = Header(frame_id=self._output.frame_id,
                            stamp=self.get_clock().now().to_msg())
        self._info_pub.publish(now)
        response.success = True
        response.status_message = f'saved to {path}'
        self.get_logger().info(f'set_camera_info: calibration saved to {path}')
        return response

    # -- capture thread ----------------------------------------------------------------------
    @property
    def images_published(self) -> int:
        return self._image.published

    @property
    def throttled_published(self) -> int:
        return self._throttled.published

    def _publish(self, frame: Frame) -> None:
        output = self._output
        raw = self._image.listening
        throttled = output.throttle.accept(frame.mono_ns) and self._throttled.listening
        info = self._info_pub.get_subscription_count() > 0
        # Encoded only while someone subscribes, and at most at its own rate.
        compressed = (self._jpeg is not None
                      and self._compressed_pub.get_subscription_count() > 0
                      and output.compressed_throttle.accept(frame.mono_ns))
        if not (raw or throttled or info or compressed):
            return
        header = stamped(frame.stamp_ns, output.frame_id)
        if raw or throttled:
            message = self._image.message(frame, header, output.encoding)   # one conversion
            for topic, wanted in ((self._image, raw), (self._throttled, throttled)):
                if wanted:
                    topic.publish_message(message)
        if compressed:   # encoded on the JPEG worker's thread: capture only copies the frame
            self._jpeg.submit(frame, header, grey=output.compression.grey,
                              quality=output.compression.jpeg_quality)
        if info:
            camera_info = output.camera_info   # only this thread touches its header
            camera_info.header = header
            self._info_pub.publish(camera_info)

    def _publish_compressed(self, image_format: str, jpeg: bytes, header: Header) -> None:
        message = CompressedImage(header=header, format=image_format)
        message.data = jpeg
        self._compressed_pub.publish(message)
        self.compressed_published += 1

    # -- diagnostics -------------------------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        """Report at 1 Hz; once capture has stopped for good, report it and end the node.

        The source already restarts its child with backoff; it gives up only after
        ``max_failures`` starts without a frame. Then the node exits with status 1 (raised here,
        on the executor's thread, and turned into one fatal line by ``main``) so that launch's
        ``respawn`` starts a fresh node, rather than a node that publishes nothing forever.
        """
        stats = self._runtime.stats()
        statuses = [self._camera_status(stats)]
        if stats.stream_state is not StreamState.DISABLED:
            statuses.append(self._stream_status(stats))
        if self._centroids is not None:
            statuses.append(self._centroids.status(DIAGNOSTICS_PERIOD_S))
        self._diag_pub.publish(diagnostic_array(self.get_clock().now().to_msg(), statuses))
        if stats.capture_error:
            raise SourceError(stats.capture_error)

    def _camera_status(self, stats: RuntimeStats) -> DiagnosticStatus:
        counts = (stats.drops, stats.source_restarts, stats.sink_errors)
        previous, self._last_counts = self._last_counts, counts
        stale = stats.last_frame_age is None or stats.last_frame_age > self._stale_after
        if stats.capture_error:
            level, message = ERROR, stats.capture_error
        elif stale:
            level, message = ERROR, 'no frames'
        elif counts != previous:
            level, message = WARN, (
                f'{stats.fps:.1f} fps; drops/restarts/sink errors since last report')
        else:
            level, message = OK, f'{stats.fps:.1f} fps'
        values = {
            'fps': f'{stats.fps:.2f}',
            'frames': stats.frames,
            'drops': stats.drops,
            'source restarts': stats.source_restarts,
            'source last error': stats.source_error or '',
            'sink errors': stats.sink_errors,
            'last frame age (s)': ('' if stats.last_frame_age is None
                                   else f'{stats.last_frame_age:.3f}'),
            'images published': self.images_published,
            'throttled images published': self.throttled_published,
            'compressed images published': self.compressed_published,
            'compressed frames skipped (encoder busy)': (
                self._jpeg.replaced if self._jpeg is not None else JPEG_UNAVAILABLE),
            'encoding': self._output.encoding,
            'calibrated': self._output.calibration.calibrated,
            **source_diagnostics(self._runtime.source),
        }
        return self._status(f'{self.get_name()}: camera', level, message, values)

    def _stream_status(self, stats: RuntimeStats) -> DiagnosticStatus:
        state = stats.stream_state
        if state in (StreamState.UNAVAILABLE, StreamState.FAILED):
            level, message = ERROR, f'{state.value}: {stats.stream_error}'
        elif state is StreamState.RUNNING and stats.stream_connected:
            level, message = OK, 'streaming'
        else:
            level, message = WARN, state.value
        values = {
            'state': state.value,
            'server ready': '' if stats.server_ready is None else stats.server_ready,
            'publisher connected': stats.stream_connected,
            'frames sent': stats.stream_sent,
            'frames dropped': stats.stream_dropped,
            'encoder restarts': stats.stream_restarts,
            'server restarts': stats.server_restarts,
            'last error': stats.stream_error or '',
        }
        return self._status(f'{self.get_name()}: stream', level, message, values)

    def _status(self, name: str, level: bytes, message: str,
                values: dict[str, Any]) -> DiagnosticStatus:
        return diagnostic_status(name, self._hardware_id, level, message, values)

    # -- teardown ----------------------------------------------------------------------------
    def destroy_node(self) -> None:
        """Stop capture (thread, children) before the publishers it uses are destroyed."""
        try:
            if self._runtime is not None:
                self._runtime.stop()
            if self._jpeg is not None:
                self._jpeg.stop()   # after capture: nothing submits any more
        finally:
            if self._centroids is not None and not self._centroids.stop():
                self.get_logger().warning('in-process centroid worker still busy after 1 s; '
                                          'leaving it behind')
            logging.getLogger('picam_ros').removeHandler(self._log_handler)
            super().destroy_node()


def main(args: list[str] | None = None) -> int:
    return run_node(CameraNode, NODE_NAME, args, errors=(SourceError,))


if __name__ == '__main__':
    raise SystemExit(run_as_main(main))
