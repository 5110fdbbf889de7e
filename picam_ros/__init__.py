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

"""picam_ros: a Raspberry Pi camera as a ROS 2 vision source.

The package is split so that everything except the two rclpy adapters
(``camera_node``, ``centroid_node``) imports and runs without ROS.
"""

from picam_ros.entry_points import guard_module_run

__version__ = '0.1.0'

guard_module_run()   # python -m picam_ros.<program>: hear a stop while the program loads
