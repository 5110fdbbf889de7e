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

"""The camera node's in-process centroids (``centroids.enabled``): capture -> engine -> clouds.

Frames never leave the process for this: the capture thread offers each frame to a
:class:`~picam_ros.centroids.worker.CentroidWorker` (a due frame costs one copy into a latest-
frame mailbox, never a serialisation, and the capture thread never waits for the engine), and
the worker thread publishes through the same
:class:`~picam_ros.ros.centroid_publisher.CentroidPublisher` as the centroid node: the same topics
(``centroids``, ``<profile>/centroids``, ``debug_image`` while subscribed) with the frame's
header, the same ``profiles`` / ``<profile>.*`` parameters (live, validated) and the same
``<node>: centroids`` diagnostics. ``centroids.rate_hz`` (live) picks frames by capture time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.node import Node
from std_msgs.msg import Header

from picam_ros.centroids.pipeline import CentroidPipeline, ProfileResult
from picam_ros.centroids.settings import Proposal
from picam_ros.centroids.worker import CentroidWorker, rate_decimation
from picam_ros.core.formats import Planes
from picam_ros.core.frames import Frame, FrameFormat
from picam_ros.core.pacing import DecimationConfig
from picam_ros.core.params import ParamRow
from picam_ros.ros.centroid_publisher import CentroidPublisher, declare_keying, propose_keying

#: The camera node's parameter group of this feature (``centroids.enabled``, ``.rate_hz``).
GROUP = 'centroids.'
RATE_PARAMETER = 'centroids.rate_hz'
_NS_PER_S = 1_000_000_000


class Change(NamedTuple):
    """A validated parameter change of the in-process centroids, applied by :meth:`apply`."""

    ok: bool
    reason: str
    keying: Proposal | None
    decimation: DecimationConfig | None


class InprocessCentroids:
    """Declares the keying parameters on ``node``, runs the worker, publishes its results.

    ``frame_id`` returns the camera's current ``frame_id`` (a live parameter), so clouds carry
    the same header as the camera's images of the same frame.
    """

    def __init__(self, node: Node, *, fmt: FrameFormat, rate_hz: float, fps: float,
                 frame_id: Callable[[], str], rows: Iterable[ParamRow] = ()) -> None:
        self._node = node
        self._fps = fps
        self._frame_id = frame_id
        self._rate_row = next((row for row in rows if row.name == RATE_PARAMETER), None)
        reserved = {row.name.split('.', 1)[0] for row in rows}
        profiles, keying = declare_keying(node, reserved=reserved)
        self.pipeline = CentroidPipeline(profiles, keying, rate_decimation(rate_hz, fps))
        self._publisher = CentroidPublisher(node, self.pipeline)
        self._worker = CentroidWorker(self.pipeline, fmt, self._publish,
                                      on_error=self._log_error)
        self._worker.start()
        node.get_logger().info(
            f'in-process centroids (keying profiles {", ".join(profiles.names)}) on '
            f'{", ".join(self._publisher.topics)} at '
            f'{"every frame" if rate_hz <= 0 or rate_hz >= fps else f"{rate_hz:g} Hz"}')

    # -- capture thread ------------------------------------------------------------------
    def offer(self, frame: Frame) -> None:
        """Copy the frame in if it is due (the runtime's sink); never waits."""
        self._worker.offer(frame)

    # -- worker thread -------------------------------------------------------------------
    def _publish(self, frame: Frame, planes: Planes, results: list[ProfileResult]) -> None:
        header = Header(frame_id=self._frame_id())
        header.stamp.sec, header.stamp.nanosec = divmod(frame.stamp_ns, _NS_PER_S)
        self._publisher.publish(header, planes, results)

    def _log_error(self, message: str) -> None:
        self._node.get_logger().error(f'in-process centroids: {message}',
                                      throttle_duration_sec=5.0)

    # -- parameters (executor thread) ----------------------------------------------------
    def owns(self, name: str) -> bool:
        return name.startswith(GROUP) or self.pipeline.profiles.owns(name)

    def propose(self, changes: Mapping[str, Any]) -> Change:
        """Validate the changes this feature owns, all together; nothing is applied yet."""
        keying = propose_keying(self.pipeline, changes)
        if not keying.ok:
            return Change(False, keying.reason, None, None)
        decimation = None
        if RATE_PARAMETER in changes:
            value = changes[RATE_PARAMETER]
            if self._rate_row is not None:
                check = self._rate_row.check(value)
                if not check.ok:
                    return Change(False, check.reason, None, None)
            decimation = rate_decimation(float(value), self._fps)
        return Change(True, '', keying, decimation)

    def apply(self, change: Change) -> None:
        if change.keying is not None:
            self.pipeline.set_keying(change.keying.profiles)
        if change.decimation is not None:
            self._worker.set_decimation(change.decimation)

    # -- diagnostics (executor thread) ---------------------------------------------------
    def status(self, period_s: float) -> DiagnosticStatus:
        stats = self._worker.report()
        return self._publisher.status(stats, period_s, 'no frames from the camera', extra={
            'source': 'in process (camera capture)',
            'frames replaced before processing (worker busy)': self._worker.overwritten,
            'publish failures': self._worker.failures,
        })

    def stop(self) -> bool:
        """Stop the worker (bounded); True when its thread ended."""
        return self._worker.stop()
