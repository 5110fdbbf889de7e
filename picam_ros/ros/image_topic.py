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


"""An Image topic fed from a capture thread, as the camera node publishes ``image_raw``.

Reusable by any node that publishes frames: the payload buffer is reused frame to frame
(``publish`` serialises before it returns), and nothing is converted while nobody listens.
"""

from __future__ import annotations

from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data, QoSProfile
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from picam_ros.core.frames import Frame
from picam_ros.core.payloads import fill_image, image_payload

_NS_PER_S = 1_000_000_000


class ImageTopic:
    """One Image publisher fed from a capture thread: converts only while someone listens."""

    def __init__(self, node: Node, topic: str, encoding: str, frame_id: str,
                 qos: QoSProfile = qos_profile_sensor_data) -> None:
        self.publisher = node.create_publisher(Image, topic, qos)
        self.encoding, self.frame_id = encoding, frame_id
        self._buffer = None
        self.published = 0

    def publish(self, frame: Frame) -> None:
        """Publish ``frame`` in ``encoding``, stamped with its capture time, if subscribed."""
        if self.publisher.get_subscription_count() == 0:
            return
        payload = image_payload(frame, self.encoding, out=self._buffer)
        self._buffer = payload.data   # publish() serialises before returning
        self.publisher.publish(fill_image(Image(), payload, stamped(frame.stamp_ns,
                                                                    self.frame_id)))
        self.published += 1


def stamped(stamp_ns: int, frame_id: str) -> Header:
    """Return a header stamped ``stamp_ns`` (wall clock, ns) with ``frame_id``."""
    header = Header(frame_id=frame_id)
    header.stamp.sec, header.stamp.nanosec = divmod(int(stamp_ns), _NS_PER_S)
    return header
