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

"""The ROS messages built from ROS-free payloads and rows: PointCloud2 and ParameterDescriptor.

Only the nodes import this module (it needs rclpy's message packages); everything it wraps is
computed and tested without ROS in :mod:`picam_ros.core.payloads` and :mod:`picam_ros.core.params`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from sensor_msgs.msg import PointCloud2, PointField

from picam_ros.core.params import ParamRow
from picam_ros.core.payloads import cloud_payload


def make_pointcloud2(header: Any, blobs: np.ndarray) -> PointCloud2:
    """Build a ``sensor_msgs.msg.PointCloud2`` with one point per blob."""
    payload = cloud_payload(blobs)
    msg = PointCloud2()
    msg.header = header
    msg.height = 1
    msg.width = payload.width
    msg.fields = [PointField(name=f.name, offset=f.offset, datatype=f.datatype, count=f.count)
                  for f in payload.fields]
    msg.is_bigendian = False
    msg.point_step = payload.point_step
    msg.row_step = payload.row_step
    msg.data = payload.data
    msg.is_dense = True
    return msg


def parameter_descriptor(row: ParamRow) -> ParameterDescriptor:
    """Build the ``rcl_interfaces.msg.ParameterDescriptor`` of a ``params.ParamRow``.

    Both nodes declare every parameter through this, so ranges, read-only flags and the
    human-readable constraints come from the one table in ``params``.
    """
    fields = row.descriptor_fields()
    integer_range = fields.pop('integer_range', None)
    floating_range = fields.pop('floating_point_range', None)
    descriptor = ParameterDescriptor(**fields)
    if integer_range is not None:
        low, high, step = integer_range
        descriptor.integer_range = [IntegerRange(from_value=low, to_value=high, step=step)]
    if floating_range is not None:
        low, high, step = floating_range
        descriptor.floating_point_range = [
            FloatingPointRange(from_value=low, to_value=high, step=step)]
    return descriptor


def declare_row(node: Any, row: ParamRow) -> Any:
    """Declare one row as a parameter with its descriptor; return its value (ROS type)."""
    return node.declare_parameter(row.name, row.default, parameter_descriptor(row)).value


def declare_rows(node: Any, rows: Iterable[ParamRow]) -> dict[str, Any]:
    """Declare every row; return the values by parameter name (for ``params.config_from_rows``).

    rclpy refuses a value of the wrong type or outside a row's range here, with a message
    naming the parameter; ``config_from_rows`` then checks choices and rules between fields.
    """
    return {row.name: declare_row(node, row) for row in rows}
