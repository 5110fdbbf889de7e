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

"""The README's parameter tables, rendered from the rows the nodes declare.

``python -m picam_ros.core.parameter_docs`` prints them; ``scripts/update_docs.py`` writes
them into docs/parameters.md, and a test checks they are current.
"""

from __future__ import annotations

from picam_ros.camera.settings import camera_parameter_rows
from picam_ros.centroids.settings import centroid_parameter_rows
from picam_ros.core.params import markdown_table
from picam_ros.machine.settings import machine_table_rows
from picam_ros.operator_page.settings import operator_parameter_rows


def main() -> None:
    """Print the parameter tables of the nodes (for docs/parameters.md)."""
    print('## camera_node\n')
    print(markdown_table(camera_parameter_rows()))
    print('\n## centroid_node (profile `pads`)\n')
    print(markdown_table(centroid_parameter_rows(['pads'])))
    print('\n## machine_node (besides `board.*` / `component.*`: the camera_node table)\n')
    print(markdown_table(machine_table_rows()))
    print('\n## operator\n')
    print('CLI flags are those of `python -m picam_ros.operator_page`, launch arguments those '
          'of `operator.launch.py`.\n')
    print(markdown_table(operator_parameter_rows()))


if __name__ == '__main__':
    main()
