"""picam_ros: a Raspberry Pi camera as a ROS 2 vision source.

The package is split so that everything except the two rclpy adapters
(``camera_node``, ``centroid_node``) imports and runs without ROS.
"""

__version__ = '0.1.0'
