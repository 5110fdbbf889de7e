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

"""What both nodes that compute centroids publish, in one place: clouds, debug images, status.

The centroid node (frames from a topic) and the camera node with ``centroids.enabled`` (frames
straight from capture) declare the same keying parameters (:func:`declare_keying`), validate
changes the same way (:func:`propose_keying`) and publish through one
:class:`CentroidPublisher`: ``centroids`` / ``<profile>/centroids`` (``sensor_msgs/PointCloud2``,
the frame's header), ``debug_image`` / ``<profile>/debug_image`` (bgr8, built only while
subscribed) and one ``DiagnosticStatus`` named ``<node>: centroids``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from diagnostic_msgs.msg import DiagnosticStatus
import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile
from sensor_msgs.msg import Image, PointCloud2

from picam_ros.centroids.engine import KeyingParams
from picam_ros.centroids.pipeline import CentroidPipeline, ProfileResult, WindowStats
from picam_ros.centroids.settings import KeyingProfiles, PROFILES_ROW, Proposal
from picam_ros.core.formats import Planes
from picam_ros.core.params import ParamRow
from picam_ros.core.payloads import fill_image, ImagePayload, new_payload_buffer
from picam_ros.ros.diagnostics import diagnostic_status, ERROR, OK, WARN
from picam_ros.ros.messages import declare_row, declare_rows, make_pointcloud2


def declare_keying(node: Node, profiles_row: ParamRow = PROFILES_ROW,
                   reserved: Sequence[str] = ()) -> tuple[KeyingProfiles,
                                                          dict[str, KeyingParams]]:
    """Declare ``profiles`` and every ``<profile>.*`` parameter; ValueError names a bad one.

    ``reserved``: parameter groups of the node that a profile must not be named after.
    ``profiles`` may already be declared (the camera node declares all its rows first).
    """
    if node.has_parameter(profiles_row.name):
        names = node.get_parameter(profiles_row.name).value
    else:
        names = declare_row(node, profiles_row)
    if not names:   # `profiles: []` in a YAML file arrives as a value of no type
        raise ValueError(f'{profiles_row.name} must name at least one keying profile, '
                         f'e.g. [pads]')
    names = list(names)
    clash = sorted(set(names) & set(reserved))
    if clash:
        raise ValueError(f'{profiles_row.name}: {", ".join(map(repr, clash))} cannot name a '
                         f'keying profile here (a parameter group of this node has that name)')
    profiles = KeyingProfiles(names)
    values = declare_rows(node, profiles.all_rows())
    return profiles, profiles.build(values)


def propose_keying(pipeline: CentroidPipeline, changes: Mapping[str, Any]) -> Proposal:
    """Validate the keying parameters among ``changes`` against the pipeline's current set."""
    return pipeline.profiles.propose(pipeline.keying, changes)


class _Output:
    """Publishers of one profile plus its reusable debug-image buffer."""

    def __init__(self, node: Node, profile: str, topics: tuple[str, str]) -> None:
        self.profile = profile
        self.cloud = node.create_publisher(PointCloud2, topics[0], 10)
        # Reliable: rqt_image_view and rviz subscribe reliably, which a best-effort publisher
        # would not serve.
        self.debug = node.create_publisher(Image, topics[1], QoSProfile(depth=1))
        self.debug_buffer: Any = None


class CentroidPublisher:
    """Publishes a pipeline's results per keying profile and describes its statistics."""

    def __init__(self, node: Node, pipeline: CentroidPipeline) -> None:
        self._node = node
        self._pipeline = pipeline
        profiles = pipeline.profiles
        self._outputs = [_Output(node, name, profiles.topics(name)) for name in profiles.names]

    @property
    def topics(self) -> list[str]:
        return [output.cloud.topic_name for output in self._outputs]

    def publish(self, header: Any, planes: Planes, results: list[ProfileResult]) -> None:
        """One cloud per profile that ran, with ``header``; debug images only when subscribed."""
        by_profile = {result.profile: result for result in results}
        for output in self._outputs:
            result = by_profile.get(output.profile)
            if result is None:
                continue
            output.cloud.publish(make_pointcloud2(header, result.blobs))
            if output.debug.get_subscription_count() > 0:
                self._publish_debug(output, header, planes, result.blobs)

    def _publish_debug(self, output: _Output, header: Any, planes: Planes,
                       blobs: np.ndarray) -> None:
        height, width = planes.luma.shape
        size = height * width * 3
        if output.debug_buffer is None or len(output.debug_buffer) != size:
            output.debug_buffer = new_payload_buffer(size)
        view = np.frombuffer(output.debug_buffer, dtype=np.uint8).reshape(height, width, 3)
        self._pipeline.debug_image(output.profile, planes, blobs, out=view)
        payload = ImagePayload('bgr8', height, width, 3 * width, output.debug_buffer)
        output.debug.publish(fill_image(Image(), payload, header))

    def status(self, stats: WindowStats, period_s: float, no_frames: str,
               extra: Mapping[str, Any] | None = None) -> DiagnosticStatus:
        """``<node>: centroids`` status; WARN ``no_frames`` when nothing came for two periods."""
        if stats.last_frame_age_s is None or stats.last_frame_age_s > 2 * period_s:
            level, message = WARN, no_frames
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
            **(extra or {}),
        }
        for profile in self._pipeline.profiles.names:
            values[f'{profile}: blobs'] = stats.blobs.get(profile, 0)
            values[f'{profile}: dropped by max_centroids'] = stats.dropped.get(profile, 0)
        name = self._node.get_fully_qualified_name()
        return diagnostic_status(f'{name}: centroids', name, level, message, values)
