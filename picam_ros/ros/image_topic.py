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

from typing import Any

from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data, QoSProfile
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from picam_ros.core.frames import Frame
from picam_ros.core.payloads import fill_image, image_payload

_NS_PER_S = 1_000_000_000


class ImageTopic:
    """One Image publisher fed from a capture thread: converts only while someone listens.

    ``publisher_options`` go to ``create_publisher`` (e.g. ``qos_overriding_options``).
    """

    def __init__(self, node: Node, topic: str, encoding: str, frame_id: str,
                 qos: QoSProfile = qos_profile_sensor_data, **publisher_options: Any) -> None:
        self.publisher = node.create_publisher(Image, topic, qos, **publisher_options)
        self.encoding, self.frame_id = encoding, frame_id
        self._buffer = None
        self.published = 0

    @property
    def listening(self) -> bool:
        """Tell whether anyone subscribes (nothing is worth converting otherwise)."""
        return self.publisher.get_subscription_count() > 0

    def publish(self, frame: Frame) -> None:
        """Publish ``frame`` in ``encoding``, stamped with its capture time, if subscribed."""
        if self.listening:
            self.publish_message(self.message(frame, stamped(frame.stamp_ns, self.frame_id)))

    def message(self, frame: Frame, header: Header, encoding: str | None = None) -> Image:
        """Return ``frame`` as an Image in ``encoding`` (default: this topic's).

        Its data is this topic's reused buffer: publish the message (``publish`` serialises
        before it returns) before the next call, on this topic or another (one conversion for
        several topics of the same frame).
        """
        payload = image_payload(frame, encoding or self.encoding, out=self._buffer)
        self._buffer = payload.data
        return fill_image(Image(), payload, header)

    def publish_message(self, message: Image) -> None:
        self.publisher.publish(message)
        self.published += 1


def stamped(stamp_ns: int, frame_id: str) -> Header:
    """Return a header stamped ``stamp_ns`` (wall clock, ns) with ``frame_id``."""
    header = Header(frame_id=frame_id)
    header.stamp.sec, header.stamp.nanosec = divmod(int(stamp_ns), _NS_PER_S)
    return header
