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

"""Targets in millimetres relative to the nozzle, from the machine's calibration file. No ROS.

The machine node writes its calibration (``picam_ros.machine.calibration``) to its
``calibration_file`` at every calibration step; :class:`CalibratedTargets` re-reads that file
whenever it changes on disk, so a target clicked after a calibration step already uses it.
A target is converted with the camera whose image the page was showing: the up camera
(``component``) in ONLYUP or for a ``leads`` centroid, the down camera (``board``: NORMAL,
ONLYDOWN and FROZEN show board pixels) otherwise. A camera counts as calibrated once its
nozzle (up) or reference mark (down) has been set; before that there is no mm target.
"""

from __future__ import annotations

from dataclasses import dataclass
import os
from typing import Any

from picam_ros.machine.calibration import load_machine_calibration, MachineCalibration

#: Profiles measured in the up camera's image (the machine node's ``component/centroids``).
UP_PROFILES = frozenset({'leads'})


@dataclass(frozen=True)
class TargetMm:
    """A target in mm relative to the nozzle (image axes: x right, y down), and its camera."""

    x: float
    y: float
    camera: str          # 'up' or 'down'


def camera_of(profile: str, mode: str | None) -> str:
    """Return the camera whose pixels a target is in: 'up' or 'down'."""
    if profile:
        return 'up' if profile in UP_PROFILES else 'down'
    return 'up' if (mode or '').upper() == 'ONLYUP' else 'down'


class CalibratedTargets:
    """Pixel targets to mm through a calibration file, re-read when it changes."""

    def __init__(self, path: str = '') -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._calibration: MachineCalibration | None = None
        self.error = ''

    def calibration(self) -> MachineCalibration | None:
        """Return the file's calibration; None without a readable file (then see ``error``)."""
        if not self.path:
            self.error = 'no calibration file'
            return None
        try:
            info = os.stat(self.path)
        except OSError:
            self._stamp, self._calibration = None, None
            self.error = f'{self.path} does not exist yet (no calibration step done)'
            return None
        stamp = (info.st_mtime_ns, info.st_size)
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                self._calibration, self.error = load_machine_calibration(self.path), ''
            except ValueError as error:
                self._calibration, self.error = None, str(error)
        return self._calibration

    def summary(self) -> dict[str, Any]:
        """Return what the file calibrates, for the page: per camera its point and scale.

        ``{'up': {'point': [x, y] | None, 'mm_per_pixel': s}, 'down': {...}}``, or
        ``{'error': why}`` without a readable file.
        """
        calibration = self.calibration()
        if calibration is None:
            return {'error': self.error}
        return {camera: {'point': None if geometry.nozzle_x is None
                         else [round(geometry.nozzle_x, 2), round(geometry.nozzle_y, 2)],
                         'mm_per_pixel': geometry.mm_per_pixel}
                for camera, geometry in (('up', calibration.up), ('down', calibration.down))}

    def to_mm(self, x: float, y: float, camera: str) -> TargetMm | None:
        """Return the target in mm, or None when that camera is not calibrated (``error``)."""
        calibration = self.calibration()
        if calibration is None:
            return None
        geometry = calibration.up if camera == 'up' else calibration.down
        if geometry.nozzle_x is None:
            step = 'the nozzle centre' if camera == 'up' else 'the reference mark'
            self.error = f'{camera} camera not calibrated: {step} is not set'
            return None
        (mm_x, mm_y), = geometry.to_mm([(x, y)])
        return TargetMm(float(mm_x), float(mm_y), camera)
