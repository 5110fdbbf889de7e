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

"""What the launch files share (they import it from the installed package).

The launch imports live inside the functions, so the package still imports without ROS.
"""

import os
from typing import Any


def parameter_files(context: Any) -> list[str]:
    """config/picam.yaml, then params_file when given (a missing file is an error)."""
    from launch.substitutions import LaunchConfiguration
    from launch_ros.substitutions import FindPackageShare

    share = FindPackageShare('picam_ros').perform(context)
    files = [os.path.join(share, 'config', 'picam.yaml')]
    extra = LaunchConfiguration('params_file').perform(context).strip()
    if extra:
        if not os.path.isfile(extra):
            raise RuntimeError(f'params_file {extra!r} is not a file')
        files.append(extra)
    return files
