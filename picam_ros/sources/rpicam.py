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

"""The Raspberry Pi camera: ``rpicam-vid --codec yuv420`` on a pipe, with its row-stride rule.

The source starts rpicam-vid itself, or (``pipe``) reads the frames an rpicam-vid started
elsewhere writes into a FIFO: the camera stays on the host while the node runs in a container
(Raspberry Pi OS ships rpicam-apps, not ROS 2) that sees only the FIFO.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
import logging
import os
import stat
import threading
import time

import numpy as np

from picam_ros.core.config import config_field, ConfigError
from picam_ros.core.formats import FORMATS
from picam_ros.core.frames import Frame, FrameFormat
from picam_ros.core.process import ProcessError
from picam_ros.sources.base import SourceError
from picam_ros.sources.process_reader import (
    CaptureConfig,
    ExactReader,
    MAX_ROW_ROUGHNESS,
    PIPE_BYTES,
    ProcessSource,
    row_roughness,
    RunEnded,
    SizeMismatch,
)
from picam_ros.sources.rpicam_controls import check_extra_args, RpicamControls
from picam_ros.sources.sensor_clock import PtsPipe, SensorClock


def align_up(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


#: The layout rpicam-vid writes (``--codec`` from the format table): planar 4:2:0, padded rows.
_LAYOUT = FORMATS['i420']


@dataclass(frozen=True)
class RpicamConfig(CaptureConfig):
    """``rpicam-vid`` writing raw I420 to stdout.

    ``stride`` 0 means the Pi ISP's rule: luma rows padded to a multiple of 64 bytes (Y stride
    alignment of the bcm2835 ISP, raspberrypi/linux #4419; rpicam-apps #188 780 -> 832, #151
    4056 -> 4096). The size actually written is measured at every start and a mismatch stops
    the source with the stride the camera really uses.
    """

    camera: int = config_field(0, 'camera index (rpicam-vid --camera)', low=0, high=15)
    stride: int = config_field(0, 'luma row stride in bytes; 0 = width rounded up to 64',
                               low=0, high=65536)
    extra_args: tuple[str, ...] = config_field(
        (), 'extra rpicam-vid arguments, e.g. --vflip --shutter 10000 --gain 2')
    binary: str = config_field('rpicam-vid', 'rpicam-vid executable (name on PATH or a path)')
    verify_frame_size: bool = config_field(
        True, 'measure the bytes per frame after each start and refuse a mismatch')
    controls: RpicamControls = config_field(  # noqa: RUF009 - a frozen, immutable default
        RpicamControls(), 'image controls', kind=RpicamControls)
    sensor_timestamps: bool = config_field(
        True, 'stamp frames with the sensor capture time (rpicam-vid --save-pts)')
    pipe: str = config_field(
        '', 'read the frames of an rpicam-vid started elsewhere from this FIFO (e.g. on the '
            'host of a container: rpicam-vid --codec yuv420 ... -o FIFO) instead of starting '
            'rpicam-vid; its options are then given where it runs, frames are stamped when read')

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.stride and (self.stride < self.width or self.stride % 2):
            raise ConfigError('stride', f'must be 0 (auto) or an even value >= width '
                                        f'({self.width}), got {self.stride}')
        if self.pipe and self.extra_args:
            raise ConfigError('extra_args', 'has no effect when reading a pipe: give '
                                            'rpicam-vid its options where it is started')
        if self.pipe and self.controls.argv():
            raise ConfigError('controls', 'cannot be set when reading a pipe: give rpicam-vid '
                                          'its controls where it is started')
        managed = ('-o', '--output', '--codec', '--width', '--height', '--camera')
        for arg in managed + (('--save-pts',) if self.sensor_timestamps else ()):
            if arg in self.extra_args:
                raise ConfigError('extra_args', f'must not set {arg}: the source manages it')
        check_extra_args(self.controls, self.extra_args)

    @property
    def row_stride(self) -> int:
        return self.stride or align_up(self.width, 64)

    @property
    def frame_format(self) -> FrameFormat:
        return FrameFormat(self.width, self.height, _LAYOUT.layout, self.row_stride)

    def argv(self, pts_path: str | None = None) -> list[str]:
        """Return the command line; ``pts_path``: where rpicam-vid writes frame timestamps.

        With ``pipe`` the child is ``cat`` on the FIFO: it waits for a writer, and ends when
        the writer does, so a restarted rpicam-vid is picked up like a restarted child.
        """
        if self.pipe:
            return ['cat', '--', self.pipe]
        fps = f'{self.fps:g}'
        pts = ['--save-pts', pts_path] if pts_path else []
        return [self.binary, '--flush', '-t', '0', '--camera', str(self.camera), '--nopreview',
                '--codec', _LAYOUT.rpicam_codec, '--framerate', fps, '--width', str(self.width),
                '--height', str(self.height), '--inline', *self.controls.argv(), *pts,
                *self.extra_args, '-o', '-']


def _implied_stride(frame_bytes: int, width: int, height: int) -> int | None:
    """Return the even row stride >= width giving i420 frames of ``frame_bytes`` bytes."""
    if height % 2:
        return None
    rows = height * 3 // 2
    if frame_bytes % rows:
        return None
    stride = frame_bytes // rows
    return stride if stride >= width and stride % 2 == 0 else None


class RpicamSource(ProcessSource):
    """Raspberry Pi camera through ``rpicam-vid --codec yuv420`` (see :class:`RpicamConfig`).

    At every start the first frames are used to measure how many bytes the camera writes per
    frame: frames arrive in bursts separated by idle time, and the burst length is the frame
    size. A size other than the configured format's (e.g. an unexpected row stride) stops the
    source with a :class:`SourceError` naming the stride it really uses, instead of publishing
    sheared images. Those measuring frames are not delivered.
    """

    kind = 'rpicam'
    #: rpicam-vid writes yuv420 in the JPEG colour space (sYCC: full-range BT.601),
    #: apps/rpicam_vid.cpp get_colourspace_flags.
    full_range = True
    _PTS_MISSES = 3   # frames without a pts before the source stops waiting for them
    _AGREEING_BURSTS = 2
    _MAX_BURSTS = 6

    def __init__(self, config: RpicamConfig | None = None,
                 logger: logging.Logger | None = None) -> None:
        config = config or RpicamConfig()
        super().__init__(config, config.frame_format, config.argv(), logger)
        self._pts: PtsPipe | None = None
        self._clock = SensorClock()
        self._pts_misses = 0
        self._out_of_step_told = False
        self._controls_pending = threading.Event()
        self._controls_stopped = threading.Event()
        self._last_read_ns = 0
        self._last_stamp_ns = 0
        self._gap_from_ns: int | None = None
        #: Live control changes applied (rpicam-vid restarted with new controls).
        self.control_changes = 0
        #: Seconds between the last frame before and the first frame after the latest change.
        self.last_control_gap: float | None = None
        self.sensor_stamps = 0
        self.read_stamps = 0

    # -- controls and sensor timestamps ------------------------------------------------------
    def start(self) -> None:
        if self.config.sensor_timestamps and self._pts is None and not self.config.pipe:
            self._pts = PtsPipe()
        self.argv = self.config.argv(self._pts.path if self._pts else None)
        super().start()

    def stop(self) -> None:
        super().stop()
        if self._pts is not None:
            self._pts.close()
            self._pts = None

    def set_controls(self, controls: RpicamControls) -> None:
        """Apply new controls: rpicam-vid restarts with them at once (no restart backoff).

        Raises :class:`ConfigError` (nothing changes) when they conflict with ``extra_args``.
        The old child is stopped and the new one started as soon as it is gone; the frames in
        between are the whole cost (``last_control_gap``).
        """
        if self.config.pipe:
            raise ConfigError('controls', f'cannot change while reading {self.config.pipe}: '
                                          f'rpicam-vid takes its controls where it is started')
        config = dataclasses.replace(self.config, controls=controls)
        with self._lock:
            self.config = config
            self.argv = config.argv(self._pts.path if self._pts else None)
            process = self._process
            if process is None or self._thread is None:
                return
            process.spec = dataclasses.replace(process.spec, argv=self.argv)
            if process.is_alive():   # else a restart is under way and takes the new argv
                self._controls_stopped.clear()
                self._controls_pending.set()
                try:
                    process.stop()
                finally:
                    self._controls_stopped.set()

    def _check_startable(self) -> None:
        pipe = self.config.pipe
        if not pipe:
            super()._check_startable()
            return
        try:
            mode = os.stat(pipe).st_mode
        except OSError as exc:
            raise SourceError(f'rpicam: pipe {pipe}: {exc.strerror} (make it with mkfifo and '
                              f'point rpicam-vid -o at it)') from None
        if not stat.S_ISFIFO(mode):
            raise SourceError(f'rpicam: pipe {pipe} is not a FIFO (make it with mkfifo and '
                              f'point rpicam-vid -o at it)')
        if not os.access(pipe, os.R_OK):
            raise SourceError(f'rpicam: pipe {pipe}: not readable by this user')
        super()._check_startable()

    def _read_run(self) -> int:
        produced = 0
        while True:
            self._new_run()
            try:
                return produced + super()._read_run()
            except RunEnded as ended:
                produced += ended.produced
                if not self._controls_pending.is_set() or self._stopping.is_set():
                    ended.produced = produced
                    raise
            self._controls_pending.clear()
            self._gap_from_ns = self._last_read_ns
            # The old child is reaped by set_controls' stop(); start() on a run that is still
            # exiting would do nothing.
            self._controls_stopped.wait(2 * self._process.spec.stop_timeout + 1.0)
            try:
                self._process.start()
            except ProcessError as exc:
                raise RunEnded(f'restart with the new controls failed: {exc}', eof=False,
                               produced=produced) from None
            self.control_changes += 1
            self.logger.info('rpicam: restarted with controls %s',
                             ' '.join(self.config.controls.argv()) or '(defaults)')

    def _new_run(self) -> None:
        self._clock.reset()
        self._pts_misses = 0
        self._out_of_step_told = False
        if self._pts is not None:
            self._pts.new_run()

    def _stamp(self, frame: Frame) -> None:
        read_ns = time.monotonic_ns()
        wall_ns = time.time_ns()
        if self._gap_from_ns is not None:
            self.last_control_gap = (read_ns - self._gap_from_ns) / 1e9
            self._gap_from_ns = None
        self._last_read_ns = read_ns
        capture = self._sensor_time(read_ns)
        if capture is None:
            capture = read_ns
            self.read_stamps += 1
        else:
            self.sensor_stamps += 1
        # Never backwards, also where read-time and sensor stamps meet.
        capture = max(capture, self._last_stamp_ns + 1)
        self._last_stamp_ns = capture
        frame.mono_ns, frame.stamp_ns = capture, wall_ns - (read_ns - capture)

    def _sensor_time(self, read_ns: int) -> int | None:
        """Return the frame's capture time from its pts, or None (it keeps its read time)."""
        pipe = self._pts
        if pipe is None:
            return None
        missing = self._pts_misses >= self._PTS_MISSES
        pts = pipe.next_pts(0.0 if missing else min(0.1, 2.0 / self.config.fps))
        if pts is None:
            self._pts_misses += 1
            if self._pts_misses == self._PTS_MISSES:
                self.logger.warning('rpicam: no timestamps from rpicam-vid --save-pts; frames '
                                    'are stamped with their read time')
            return None
        if missing:
            self.logger.info('rpicam: sensor timestamps are back')
        self._pts_misses = 0
        capture = self._clock.stamp(pts, read_ns)
        if capture is None and not self._out_of_step_told:
            self._out_of_step_told = True
            self.logger.warning('rpicam: sensor timestamps out of step with the frames; read '
                                'time until they agree again')
        return capture

    def _skip_pts(self, consumed_bytes: int) -> None:
        """Frames read while measuring the frame size have no Image: drop their pts."""
        if self._pts is not None:
            self._pts.skip(round(consumed_bytes / self.format.frame_bytes))

    def _verify_frame_size(self, reader: ExactReader) -> None:
        cfg = self.config
        expected = self.format.frame_bytes
        # Idle time that separates two frames: a quarter of the frame period, >= 4 ms.
        gap = max(0.004, 0.25 / cfg.fps)
        scratch = memoryview(bytearray(PIPE_BYTES))
        bursts: list[int] = []
        count = 0
        consumed = 0
        deadline = time.monotonic() + cfg.start_timeout
        while len(bursts) < self._MAX_BURSTS:
            if count == 0:
                remaining = deadline - time.monotonic()
                ready = reader.wait_readable(remaining) if remaining > 0 else False
                if not ready:
                    if ready is None:
                        return
                    raise RunEnded(f'no data within {cfg.start_timeout:g} s of the start',
                                   eof=False)
            else:
                ready = reader.wait_readable(gap)
                if ready is None:
                    return
                if not ready:
                    bursts.append(count)
                    count = 0
                    agreeing = [b for b in bursts if b == bursts[-1]]
                    if len(agreeing) >= self._AGREEING_BURSTS:
                        break
                    continue
            n = reader.read_some(scratch)
            if n == 0:
                raise RunEnded('output ended during the frame size check', eof=True)
            count += n
            consumed += n
            if count > 8 * expected:  # no idle gaps at all: the size cannot be measured
                break
        if count == 0 and bursts and bursts.count(bursts[-1]) >= self._AGREEING_BURSTS:
            # Several frames may arrive back to back (a busy reader); a frame size that does
            # not divide the burst is what gives a wrong stride away.
            if bursts[-1] % expected:
                raise SizeMismatch(self._mismatch_message(bursts[-1]))
            self._skip_pts(consumed)
            return
        # Unmeasurable (no idle time between frames, or bursts that never agree): realign to
        # the configured size, then publish only if what arrives looks like such frames.
        leftover = (expected - consumed % expected) % expected
        if leftover:
            reader.read_exact(np.empty(leftover, np.uint8), cfg.frame_timeout)
        self._skip_pts(consumed + leftover)
        probe = np.empty(expected, np.uint8)
        if not reader.read_exact(probe, cfg.frame_timeout):
            return
        self._skip_pts(expected)   # the probe frame is not published
        roughness = row_roughness(probe, self.format)
        if roughness > MAX_ROW_ROUGHNESS:
            raise SizeMismatch(
                f'rpicam: cannot confirm the frame size: the camera writes without pauses '
                f'between frames (bursts {bursts}), and its data does not look like '
                f'{self.format} frames (neighbouring luma rows differ by {roughness:.0f} on '
                f'average; an image stays well under {MAX_ROW_ROUGHNESS}, random bytes give '
                f'about 85). Not publishing it.')
        self.logger.warning('rpicam: could not measure the frame size (bursts %s); its data '
                            'looks like %d-byte frames (row roughness %.0f), going on',
                            bursts, expected, roughness)

    def _mismatch_message(self, measured: int) -> str:
        cfg = self.config
        fmt = self.format
        text = (f'rpicam: the camera writes {measured}-byte frames, but {fmt} is '
                f'{fmt.frame_bytes} bytes.')
        tail = self._process.stderr_tail()[-5:]
        adjusted = any('adjusted' in line for line in tail)
        stride = _implied_stride(measured, cfg.width, cfg.height)
        if stride is not None and not adjusted:
            text += (f' Its rows are {stride} bytes apart: set stride={stride}, or use a width '
                     f'that is a multiple of 64.')
        else:
            text += (' The camera changed the requested size ("Stream configuration adjusted");'
                     ' pick a width and height the sensor mode supports.' if adjusted else
                     ' Pick a width and height the sensor mode supports.')
        if tail:
            text += ' rpicam-vid said: ' + ' | '.join(tail)
        return text
