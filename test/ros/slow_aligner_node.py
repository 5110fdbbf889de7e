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

"""The machine node whose alignment never ends: a test double for capture cadence.

Run as a script with the node's ``--ros-args``. The first alignment writes the file named by
``PICAM_TEST_ALIGN_MARK`` and then waits forever, as a pathologically slow aligner would; the
test watches whether the cameras' frames keep coming.
"""

import os
from pathlib import Path
import threading

from picam_ros.machine.vision import MachineVision
from picam_ros.ros.machine_node import main

_NEVER = threading.Event()


def _stuck(self, board, component):
    Path(os.environ['PICAM_TEST_ALIGN_MARK']).write_text('aligning\n')
    _NEVER.wait()


MachineVision.align = _stuck

if __name__ == '__main__':
    raise SystemExit(main())
