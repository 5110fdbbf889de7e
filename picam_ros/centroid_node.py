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

"""ROS 2 centroid node: images in, one PointCloud2 of blob centroids per keying profile out.

All per-frame work is :class:`picam_ros.centroid_pipeline.CentroidPipeline`; this file declares
parameters, wires topics and reports diagnostics.

Topics (relative names, so a namespace per camera gives ``/board/centroids``):

- ``image`` (in, ``sensor_msgs/Image``, sensor-data QoS): nv21, nv12, i420/yuv420, mono8, bgr8,
  rgb8. Remap it to the camera's ``camera/image_throttled`` so that frames the node would skip
  are never sent: rclpy serialises every message, so dropping on arrival still costs the copy.
- ``centroids`` / ``<profile>/centroids`` (out, ``sensor_msgs/PointCloud2``): the first profile
  on the plain name, the others under their name; same header as the source image.
- ``debug_image`` / ``<profile>/debug_image`` (out, bgr8): built only while subscribed.
- ``/diagnostics``: input and processing rate, processing time, blobs, drops, errors.

The subscription takes serialised messages and deserialises only the frames it processes, so a
frame skipped by ``process_every_n``/``max_rate_hz`` costs one take and no conversion.
"""

from __future__ import annotations

from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
import numpy as np
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data, QoSProfile
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import Image, PointCloud2

from picam_ros.centroid_pipeline import CentroidPipeline, WindowStats
from picam_ros.centroid_settings import DIAGNOSTICS_ROW, KeyingProfiles, PROFILES_ROW
from picam_ros.diagnostics import diagnostic_array, diagnostic_status, ERROR, OK, WARN
from picam_ros.node_runner import run_node
from picam_ros.overrides import undeclared_warnings
from picam_ros.pacing import DECIMATION_ROWS, DecimationConfig
from picam_ros.params import config_from_ros, ParamRow
from picam_ros.ros_conversions import fill_image, ImagePayload, new_payload_buffer
from picam_ros.ros_messages import make_pointcloud2, parameter_descriptor

NODE_NAME = 'centroids'


class _Output:
    """Publishers of one profile plus its reusable debug-image buffer."""

    def __init__(self, node: Node, profile: str, topics: tuple[str, str]) -> None:
        self.profile = profile
        self.cloud = node.create_publisher(PointCloud2, topics[0], 10)
        # Reliable: rqt_image_view and rviz subscribe reliably, which a best-effort publisher
        # would not serve.
        self.debug = node.create_publisher(Image, topics[1], QoSProfile(depth=1))
        self.debug_buffer = None


class CentroidNode(Node):
    """Subscribes ``image``; publishes centroids per keying profile, debug images, diagnostics."""

    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        names = self._declare(PROFILES_ROW)
        if not names:   # `profiles: []` in a YAML file arrives as a value of no type
            raise ValueError(f'{self.get_name()}: profiles must name at least one keying '
                             f'profile, e.g. [pads]')
        profiles = KeyingProfiles(list(names))
        keying_values = {row.name: self._declare(row) for row in profiles.all_rows()}
        decimation_values = {row.name: self._declare(row) for row in DECIMATION_ROWS}
        period = self._declare(DIAGNOSTICS_ROW)
        declared = [PROFILES_ROW.name, DIAGNOSTICS_ROW.name, *keying_values, *decimation_values]
        for warning in undeclared_warnings(getattr(self, '_parameter_overrides', {}), declared,
                                           'centroid'):
            self.get_logger().warning(warning)
        try:
            keying = profiles.build(keying_values)
            decimation = config_from_ros(DecimationConfig, DECIMATION_ROWS, decimation_values)
        except ValueError as error:
            raise ValueError(f'{self.get_name()}: invalid parameters: {error}') from None
        self._profiles = profiles
        self._decimation_rows = {row.name: row for row in DECIMATION_ROWS}
        self._pipeline = CentroidPipeline(profiles, keying, decimation)
        # Registered after declaration: every value is checked above as one consistent set.
        self.add_on_set_parameters_callback(self._on_set_parameters)

        self._outputs = [_Output(self, name, profiles.topics(name)) for name in profiles.names]
        self._diagnostics = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._period = float(period)
        self._subscription = self.create_subscription(
            Image, 'image', self._on_image, qos_profile_sensor_data, raw=True)
        self._timer = self.create_timer(self._period, self._publish_diagnostics)
        self.get_logger().info(
            f'keying profiles {", ".join(profiles.names)} on '
            f'{self.resolve_topic_name("image")}; decimation {decimation}')

    def _declare(self, row: ParamRow) -> Any:
        return self.declare_parameter(row.name, row.default, parameter_descriptor(row)).value

    # -- parameters --------------------------------------------------------------------------
    def _on_set_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        """Validate a change as a whole; on success stage it for the next processed frame.

        Runs before rclpy stores the values (and after it checked types, ranges, read-only),
        so the new settings are computed from the request, not read back from the node.
        """
        changes = {p.name: p.value for p in parameters}
        proposal = self._profiles.propose(self._pipeline.keying, changes)
        if not proposal.ok:
            return SetParametersResult(successful=False, reason=proposal.reason)
        misfit = self._pipeline.misfit(proposal.profiles)
        if misfit:
            return SetParametersResult(successful=False, reason=misfit)
        decimation = None
        decimation_changes = {name: value for name, value in changes.items()
                              if name in self._decimation_rows}
        if decimation_changes:
            for name, value in decimation_changes.items():
                check = self._decimation_rows[name].check(value)
                if not check.ok:
                    return SetParametersResult(successful=False, reason=check.reason)
            current = self._pipeline.decimator.config
            try:
                decimation = DecimationConfig(**{
                    'process_every_n': current.process_every_n,
                    'max_rate_hz': current.max_rate_hz,
                    **decimation_changes})
            except ValueError as error:
                return SetParametersResult(successful=False, reason=str(error))
        self._pipeline.set_keying(proposal.profiles)
        if decimation is not None:
            self._pipeline.set_decimation(decimation)
        return SetParametersResult(successful=True)

    # -- frames ------------------------------------------------------------------------------
    def _on_image(self, serialized: bytes) -> None:
        if not self._pipeline.accept():
            return
        msg = deserialize_message(serialized, Image)
        try:
            planes = self._pipeline.planes(msg.encoding, msg.height, msg.width, msg.step,
                                           msg.data)
        except ValueError as error:
            self._pipeline.record_error(str(error))
            self.get_logger().error(f'cannot use image: {error}', throttle_duration_sec=5.0)
            return
        results = {result.profile: result for result in self._pipeline.process(planes)}
        for output in self._outputs:
            result = results.get(output.profile)
            if result is None:
                continue
            output.cloud.publish(make_pointcloud2(msg.header, result.blobs))
            if output.debug.get_subscription_count() > 0:
                self._publish_debug(output, msg.header, planes, result.blobs)

    def _publish_debug(self, output: _Output, header: Any, planes: Any, blobs: Any) -> None:
        height, width = planes.luma.shape
        size = height * width * 3
        if output.debug_buffer is None or len(output.debug_buffer) != size:
            output.debug_buffer = new_payload_buffer(size)
        view = np.frombuffer(output.debug_buffer, dtype=np.uint8).reshape(height, width, 3)
        self._pipeline.debug_image(output.profile, planes, blobs, out=view)
        payload = ImagePayload('bgr8', height, width, 3 * width, output.debug_buffer)
        output.debug.publish(fill_image(Image(), payload, header))

    # -- diagnostics -------------------------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        stats = self._pipeline.report()
        self._diagnostics.publish(diagnostic_array(self.get_clock().now().to_msg(),
                                                   [self._status(stats)]))

    def _status(self, stats: WindowStats) -> DiagnosticStatus:
        if stats.last_frame_age_s is None or stats.last_frame_age_s > 2 * self._period:
            level = WARN
            message = f'no images on {self.resolve_topic_name("image")}'
        elif stats.errors:
            level, message = ERROR, stats.last_error
        else:
            level = OK
            message = f'{stats.rate_hz:.1f} Hz, {stats.processing_ms_mean:.2f} ms per frame'
        values = {
            'processed rate (Hz)': f'{stats.rate_hz:.2f}',
            'received rate (Hz)': f'{stats.received_hz:.2f}',
            'frames processed': stats.processed,
            'frames skipped (decimation)': stats.skipped,
            'processing time mean (ms)': f'{stats.processing_ms_mean:.3f}',
            'processing time max (ms)': f'{stats.processing_ms_max:.3f}',
            'errors': stats.errors,
            'last error': stats.last_error,
        }
        for profile in self._profiles.names:
            values[f'{profile}: blobs'] = stats.blobs.get(profile, 0)
            values[f'{profile}: dropped by max_centroids'] = stats.dropped.get(profile, 0)
        return diagnostic_status(f'{self.get_fully_qualified_name()}: centroids',
                                 self.get_fully_qualified_name(), level, message, values)


def main(args: list[str] | None = None) -> int:
    return run_node(CentroidNode, NODE_NAME, args)


if __name__ == '__main__':
    raise SystemExit(main())
