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

All per-frame work is :class:`picam_ros.centroids.pipeline.CentroidPipeline`; this file declares
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

from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import Image

from picam_ros.centroids.pipeline import CentroidPipeline
from picam_ros.centroids.settings import DIAGNOSTICS_ROW
from picam_ros.core.pacing import DECIMATION_ROWS, DecimationConfig
from picam_ros.core.params import config_from_rows, config_with_changes
from picam_ros.entry_points import run_as_main
from picam_ros.ros.centroid_publisher import (
    CentroidPublisher,
    declare_keying,
    declare_row,
    propose_keying,
)
from picam_ros.ros.diagnostics import diagnostic_array
from picam_ros.ros.node_runner import run_node, warn_about_undeclared

NODE_NAME = 'centroids'


class CentroidNode(Node):
    """Subscribes ``image``; publishes centroids per keying profile, debug images, diagnostics."""

    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        try:
            profiles, keying = declare_keying(self)
            decimation_values = {row.name: declare_row(self, row) for row in DECIMATION_ROWS}
            period = declare_row(self, DIAGNOSTICS_ROW)
            decimation = config_from_rows(DecimationConfig, DECIMATION_ROWS, decimation_values)
        except ValueError as error:
            raise ValueError(f'{self.get_name()}: invalid parameters: {error}') from None
        warn_about_undeclared(self, 'centroid')
        self._pipeline = CentroidPipeline(profiles, keying, decimation)
        # Registered after declaration: every value is checked above as one consistent set.
        self.add_on_set_parameters_callback(self._on_set_parameters)

        self._publisher = CentroidPublisher(self, self._pipeline)
        self._diagnostics = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._period = float(period)
        self._subscription = self.create_subscription(
            Image, 'image', self._on_image, qos_profile_sensor_data, raw=True)
        self._timer = self.create_timer(self._period, self._publish_diagnostics)
        self.get_logger().info(
            f'keying profiles {", ".join(profiles.names)} on '
            f'{self.resolve_topic_name("image")}; decimation {decimation}')

    # -- parameters --------------------------------------------------------------------------
    def _on_set_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        """Validate a change as a whole; on success stage it for the next processed frame.

        Runs before rclpy stores the values (and after it checked types, ranges, read-only),
        so the new settings are computed from the request, not read back from the node.
        """
        changes = {p.name: p.value for p in parameters}
        proposal = propose_keying(self._pipeline, changes)
        if not proposal.ok:
            return SetParametersResult(successful=False, reason=proposal.reason)
        misfit = self._pipeline.misfit(proposal.profiles)
        if misfit:
            return SetParametersResult(successful=False, reason=misfit)
        current = self._pipeline.decimator.config
        try:   # the same config, or a new one when a decimation parameter changes
            decimation = config_with_changes(current, DECIMATION_ROWS, changes)
        except ValueError as error:
            return SetParametersResult(successful=False, reason=str(error))
        self._pipeline.set_keying(proposal.profiles)
        if decimation is not current:
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
        self._publisher.publish(msg.header, planes, self._pipeline.process(planes))

    # -- diagnostics -------------------------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        stats = self._pipeline.report()
        self._diagnostics.publish(diagnostic_array(
            self.get_clock().now().to_msg(),
            [self._publisher.status(stats, self._period,
                                    f'no images on {self.resolve_topic_name("image")}')]))


def main(args: list[str] | None = None) -> int:
    return run_node(CentroidNode, NODE_NAME, args)


if __name__ == '__main__':
    raise SystemExit(run_as_main(main))
