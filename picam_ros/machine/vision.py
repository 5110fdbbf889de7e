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


"""The machine's per-frame work without ROS: frame pair, composite, centroids in mm, alignment.

One process hosts both cameras (``machine_node``): the board camera (down-looking) and the
component camera (up-looking, ``--vflip``). Their capture threads call :meth:`MachineVision.on_up`
and :meth:`MachineVision.on_down`; the up frame is copied (a source refills its buffers), the
down frame is composed with the newest up frame into the compositor's reused I420 buffer. Both
cameras' centroids (``pads`` keyed on the board, chroma-gated ``leads`` on the component) are
converted to mm relative to the nozzle and to the controller's normalised frame with the
machine calibration, and aligned (leads onto pads) with ``picam_ros.machine.alignment``.

The "fresh frame after motion" rule and the still-frame noise it follows are
``picam_ros.machine.settling``; every frame of each camera feeds that camera's :class:`StillNoise`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import threading
from typing import Any

import numpy as np

from picam_ros.centroids.engine import find_centroids, KeyingParams
from picam_ros.core.frames import Frame
from picam_ros.machine.alignment import align, Alignment, AlignmentParams
from picam_ros.machine.calibration import CameraGeometry, MachineCalibration
from picam_ros.machine.composite import CompositeParams, Compositor, I420Planes
from picam_ros.machine.footprint import Footprint
from picam_ros.machine.settling import FreshRequest, StillNoise
from picam_ros.machine.subpixel import edge_weighted_centres
from picam_ros.machine.verdict import judge, Verdict, VerdictParams

__all__ = ['LEADS_KEYING', 'PADS_KEYING', 'CameraCentroids', 'MachineVision', 'measure']

#: Default profiles: bright pads on the board; bright leads whose chroma passes the composite's
#: key (U <= 150, V >= 90), so the up camera's backdrop and nozzle are not leads.
PADS_KEYING = KeyingParams(luma_min=150)
LEADS_KEYING = KeyingParams(luma_min=150, u_max=150, v_min=90)


@dataclass(frozen=True)
class CameraCentroids:
    """One camera's blobs on one frame, with their positions in mm and normalised."""

    camera: str            # 'board' or 'component'
    sequence: int
    stamp_ns: int
    mono_ns: int
    blobs: np.ndarray      # picam_ros.centroids.engine.CENTROID_DTYPE
    dropped: int
    mm: np.ndarray         # (N, 2) mm relative to the nozzle (the datum on the board camera)
    normalised: np.ndarray  # (N, 2) p / size - 0.5
    #: (N, 2) px: the blobs' positions from their edge pixels too (picam_ros.machine.subpixel),
    #: which ``mm`` and ``normalised`` convert; ``blobs`` keep the engine's centroids.
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))

    @property
    def count(self) -> int:
        return int(self.blobs.shape[0])


def measure(frame: Frame, keying: KeyingParams, geometry: CameraGeometry,
            camera: str) -> CameraCentroids:
    """Centroids of one frame with one profile, in pixels, mm and normalised."""
    u, v = frame.chroma() if keying.uses_chroma else (None, None)
    result = find_centroids(frame.y, keying, u, v)
    if keying.invert or keying.luma_max < 255:
        # A band or an inverted key: what "more light" means is not the key's; as keyed.
        points = np.column_stack([result.blobs['x'], result.blobs['y']]).astype(np.float64)
    else:
        # Positions from the edge pixels too (sub-pixel); the blobs stay the engine's.
        points = edge_weighted_centres(frame.y, result.blobs, keying, u, v)
    if frame.format.width != geometry.width or frame.format.height != geometry.height:
        raise ValueError(f'{camera}: frame is {frame.format.width}x{frame.format.height} but '
                         f'the calibration is for {geometry.width}x{geometry.height}')
    mm = geometry.to_mm(points) if len(points) else np.zeros((0, 2))
    norm = geometry.normalised(points) if len(points) else np.zeros((0, 2))
    return CameraCentroids(camera, frame.sequence, frame.stamp_ns, frame.mono_ns, result.blobs,
                           result.dropped, mm, norm, points)


class _Waiter:
    """One pending fresh-frame request of one camera, fulfilled on its capture thread."""

    def __init__(self, request: FreshRequest, keying: KeyingParams, geometry: CameraGeometry,
                 camera: str) -> None:
        self.request = request
        self.keying, self.geometry, self.camera = keying, geometry, camera
        self.done = threading.Event()
        self.result: CameraCentroids | None = None
        self.error: str | None = None

    def offer(self, frame: Frame) -> bool:
        if not self.request.offer(frame):
            return False
        try:
            self.result = measure(frame, self.keying, self.geometry, self.camera)
        except ValueError as exc:
            self.error = str(exc)
        self.done.set()
        return True


class MachineVision:
    """Frame pair, composite, centroids and alignment of the machine's two cameras.

    Settings are immutable values swapped whole (``composite``, ``pads``, ``leads``,
    ``calibration``, ``alignment``, ``verdict``, ``footprint``); a frame in progress keeps the
    ones it started with.
    """

    def __init__(self, calibration: MachineCalibration, composite: CompositeParams | None = None,
                 pads: KeyingParams = PADS_KEYING, leads: KeyingParams = LEADS_KEYING,
                 alignment: AlignmentParams | None = None,
                 verdict: VerdictParams | None = None,
                 footprint: Footprint | None = None) -> None:
        self.calibration = calibration
        self.pads, self.leads = pads, leads
        self.alignment = alignment or AlignmentParams()
        self.verdict = verdict or VerdictParams()
        self.footprint = footprint
        #: Each camera's still-frame difference, measured on every frame (settling follows it).
        self.noise = {'board': StillNoise(), 'component': StillNoise()}
        self._compositor = Compositor(composite or CompositeParams())
        self._up_lock = threading.Lock()
        self._up: Frame | None = None
        self._waiters_lock = threading.Lock()
        self._waiters: dict[str, list[_Waiter]] = {'board': [], 'component': []}

    @property
    def composite(self) -> CompositeParams:
        return self._compositor.params

    @composite.setter
    def composite(self, params: CompositeParams) -> None:
        self._compositor.params = params

    @property
    def composite_output(self) -> np.ndarray | None:
        """Return the packed I420 buffer ``on_down`` last composed into (None before)."""
        return self._compositor.output

    # -- frames (capture threads) ------------------------------------------------------------
    def on_up(self, frame: Frame) -> None:
        """Keep a copy of the newest component frame (the source reuses its buffer)."""
        with self._up_lock:
            if self._up is None or self._up.format != frame.format:
                self._up = frame.copy()
            else:
                frame.copy_into(self._up)
        self.noise['component'].add(frame)
        self._offer('component', frame)

    def on_down(self, frame: Frame) -> I420Planes | None:
        """Compose a board frame with the newest component frame (None: no up frame yet).

        The planes are the compositor's buffer: publish or stream them before the next call.
        """
        self.noise['board'].add(frame)
        self._offer('board', frame)
        with self._up_lock:
            if self._up is None:
                return None
            return self._compositor.compose(frame, self._up)

    def latest_up(self) -> Frame | None:
        """Return a copy of the newest component frame."""
        with self._up_lock:
            return None if self._up is None else self._up.copy()

    # -- measurement -------------------------------------------------------------------------
    def measure_board(self, frame: Frame) -> CameraCentroids:
        return measure(frame, self.pads, self.calibration.down, 'board')

    def measure_component(self, frame: Frame) -> CameraCentroids:
        return measure(frame, self.leads, self.calibration.up, 'component')

    def align(self, board: CameraCentroids, component: CameraCentroids) -> Alignment:
        """Return the part's correction (mm, degrees): leads (component) onto pads (board).

        Raises ValueError or LookupError, saying why, when too few blobs are seen or matched.
        """
        return align(component.mm, board.mm, self.alignment, self.footprint)

    def judge(self, alignment: Alignment) -> Verdict:
        """Return PASS, FAIL or AMBIGUOUS for a correction, against ``verdict``."""
        return judge(alignment, self.verdict)

    # -- fresh frames -----------------------------------------------------------------------
    def request_fresh(self, requested_ns: int, settle_threshold: float = 0.0,
                      noise_factor: float = 0.0) -> dict[str, _Waiter]:
        """Register a request on both cameras; wait on each returned waiter's ``done``.

        Settled frames: see ``picam_ros.machine.settling`` (both 0: the first frame after the
        request).
        """
        calibration = self.calibration
        waiters = {
            camera: _Waiter(FreshRequest(requested_ns, settle_threshold, self.noise[camera],
                                         noise_factor), keying, geometry, camera)
            for camera, keying, geometry in (('board', self.pads, calibration.down),
                                             ('component', self.leads, calibration.up))}
        with self._waiters_lock:
            for camera, waiter in waiters.items():
                self._waiters[camera].append(waiter)
        return waiters

    def cancel(self, waiters: dict[str, Any]) -> None:
        """Drop requests nobody waits for any more (a timed-out service call)."""
        with self._waiters_lock:
            for camera, waiter in waiters.items():
                if waiter in self._waiters[camera]:
                    self._waiters[camera].remove(waiter)

    def _offer(self, camera: str, frame: Frame) -> None:
        with self._waiters_lock:
            pending = list(self._waiters[camera])
        if not pending:
            return
        finished = [waiter for waiter in pending if waiter.offer(frame)]
        if finished:
            with self._waiters_lock:
                self._waiters[camera] = [w for w in self._waiters[camera] if w not in finished]
