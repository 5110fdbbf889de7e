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

"""Read a ``sensor_msgs/PointCloud2`` into a numpy record array, from its own field table.

``sensor_msgs_py.point_cloud2`` is not on PyPI (the rclpy wheels CI installs come without it), so
the tests read clouds with this: the layout comes from the message's ``fields``, ``point_step``
and ``is_bigendian``, the way any subscriber must read it.
"""

import numpy as np

#: sensor_msgs/PointField datatype constants -> numpy types.
DATATYPES = {1: np.int8, 2: np.uint8, 3: np.int16, 4: np.uint16, 5: np.int32, 6: np.uint32,
             7: np.float32, 8: np.float64}


def read_points(cloud, field_names=None) -> np.ndarray:
    """Return the cloud's points as a record array with the named fields (default: all)."""
    order = '>' if cloud.is_bigendian else '<'
    dtype = np.dtype({
        'names': [field.name for field in cloud.fields],
        'formats': [np.dtype(DATATYPES[field.datatype]).newbyteorder(order)
                    for field in cloud.fields],
        'offsets': [field.offset for field in cloud.fields],
        'itemsize': cloud.point_step})
    data = np.frombuffer(bytes(cloud.data), np.uint8)
    assert data.size == cloud.row_step * cloud.height
    points = np.ndarray(cloud.width * cloud.height, dtype, data)
    names = field_names or list(dtype.names)
    return np.rec.fromarrays([points[name] for name in names], names=names)


def read_points_numpy(cloud) -> np.ndarray:
    """Return every field as a 2-D float array, one row per point (as sensor_msgs_py does)."""
    points = read_points(cloud)
    return np.column_stack([points[name].astype(np.float64) for name in points.dtype.names]
                           ) if len(points) else np.empty((0, len(cloud.fields)))
