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

"""A synthetic PCB scene with exactly known blob centroids: the default source and test oracle.

The scene is a dark board (smooth texture, traces, silkscreen, per-frame noise) with bright
pads of varied size and shape (rectangles, rotated rectangles, discs) and components (dark
bodies with bright leads). Everything that is not a pad or lead stays below luma 150 (the default
key threshold) even with noise; every pad and lead is at or above it, and shapes are kept at
least 3 px apart, so each pad or lead is exactly one connected blob.

The board is rendered once, larger than the frame; each frame is a view of it at an integer
offset that follows a ping-pong drift (fractional speeds are fine: the offset is the floor of
the travelled distance), plus a precomputed noise tile at a per-frame offset. Because every
shape's rasterised mask is kept, the ground truth of any frame is exact: see
:meth:`SyntheticSource.ground_truth`.

The top rows of every frame carry the frame's sequence number as 16x16 blocks of two mid-grey
levels (32 bits plus their complement, big enough to survive H.264), which
:func:`decode_sequence` reads back, e.g. from a decoded stream to measure latency.

Two more scenes model the pick-and-place machine (``scene``): ``footprint`` is what the
down-looking board camera sees at a placement, one component's land pattern centred on the frame
centre (the nozzle datum), and ``part`` what the up-looking component camera sees: the same
component's leads on a blue backdrop at a known pose relative to the nozzle (``part_dx``,
``part_dy``, ``part_theta``), with the nozzle tip, a round bright disc at the frame centre plus
(``nozzle_dx``, ``nozzle_dy``), drawn over the part's body; its chroma fails the leads key, so
only the nozzle-finding step sees it. Both are static (no drift) and built from the seed's land
pattern, so the correction that puts the leads on the pads is known exactly:
:meth:`SyntheticSource.alignment_truth`. Their ground truth works as the board's does.

By default a pixel is in a shape when its centre is, and the frame's noise (a uniform tile of up
to ``noise`` grey levels) never crosses the key: centroids are exact and never move. A sensor is
neither: ``edges='area'`` gives the footprint and part scenes' edge pixels the luma of the share
they cover (64 samples per pixel), and ``sensor_noise`` adds Gaussian read noise of that sigma,
drawn for each frame from (seed, frame number). With either, the key at the edges follows the
light, not the shapes' centre rule, so the ground truth is exact only without them; the part's
pose (``alignment_truth``) stays exact.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import threading
import time

import numpy as np

from picam_ros.core.config import config_field, ConfigBase, ConfigError
from picam_ros.core.frames import Frame, FrameFormat, LAYOUTS
from picam_ros.core.pacing import RateMeter
from picam_ros.sources.base import FrameSource, FrameTimeout, SourceStats, SourceStopped

__all__ = [
    'EDGES',
    'GROUND_TRUTH_DTYPE',
    'KEY_THRESHOLD',
    'SCENES',
    'SyntheticConfig',
    'SyntheticSource',
    'decode_sequence',
    'encode_sequence',
    'sequence_strip_rows',
]

#: The scene is built so that luma >= KEY_THRESHOLD is exactly the pads and leads.
KEY_THRESHOLD = 150
BLOCK = 16                      # sequence stamp block side (an H.264 macroblock)
SEQUENCE_BITS = 32
_LEVEL_0, _LEVEL_1 = 48, 128    # both below the key threshold, far apart for codec noise
_BOARD_MAX = 140                # board luma ceiling before noise
_PAD_MIN, _PAD_MAX = 185, 232   # pad luma range before noise (max + noise stays < 256)
_GAP = 3                        # minimum free pixels between two shapes

KIND_RECT, KIND_ROTATED, KIND_DISC, KIND_LEAD = 0, 1, 2, 3
KIND_NOZZLE = 4
#: ``board``: the drifting PCB; ``footprint`` / ``part``: the machine's down / up views.
SCENES = ('board', 'footprint', 'part')
EDGES = ('sharp', 'area')
#: Samples per pixel side for area edges (64 per pixel: coverage in steps of 1/64).
_COVERAGE_SAMPLES = 8

GROUND_TRUTH_DTYPE = np.dtype([
    ('x', 'f8'), ('y', 'f8'), ('area', 'u4'),
    ('bbox_x', 'i4'), ('bbox_y', 'i4'), ('bbox_w', 'i4'), ('bbox_h', 'i4'),
    ('touches_border', '?'), ('clipped', '?'), ('kind', 'u1'), ('pad_id', 'i4'),
])

# Chroma (U, V) per material: green solder mask, copper traces, gold pads, black bodies,
# tin leads, white silkscreen.
_MATERIALS = {
    'board': (112, 104), 'trace': (108, 100), 'pad': (96, 152), 'body': (128, 128),
    'lead': (126, 130), 'silk': (128, 128),
    # The up camera's view: a blue backdrop and a bluish-dark part body (both fail the leads
    # key U <= 150, V >= 90), and the nozzle tip (bright, fails it too).
    'backdrop': (176, 112), 'part_body': (160, 120), 'nozzle': (170, 118),
}
_MATERIAL_IDS = {name: i for i, name in enumerate(_MATERIALS)}


@dataclass(frozen=True)
class SyntheticConfig(ConfigBase):
    """Settings of the synthetic scene (all validated; metadata feeds parameters and flags)."""

    width: int = config_field(1024, 'frame width in pixels', low=256, high=8192)
    height: int = config_field(1024, 'frame height in pixels', low=128, high=8192)
    fps: float = config_field(25.0, 'frame rate when paced, frames/s', low=0.1, high=1000.0)
    layout: str = config_field('i420', 'memory layout of the frames', choices=LAYOUTS)
    stride: int = config_field(0, 'luma row stride in bytes (0: no padding)', low=0,
                               high=65536)
    seed: int = config_field(0, 'scene seed: same seed, same board', low=0, high=2**31 - 1)
    paced: bool = config_field(True, 'deliver frames at fps on a monotonic schedule; false: '
                                     'render on demand as fast as read (benchmarks)')
    drift_x: float = config_field(1.5, 'scene motion in x, px/frame (fractions allowed)',
                                  low=-64.0, high=64.0)
    drift_y: float = config_field(0.75, 'scene motion in y, px/frame', low=-64.0, high=64.0)
    travel: int = config_field(96, 'how far the scene moves before turning back, px',
                               low=0, high=4096)
    pads: int = config_field(0, 'number of pads on the board (0: ~110 per megapixel)',
                             low=0, high=100000)
    components: int = config_field(0, 'number of leaded components (0: ~1 per 0.4 MP)',
                                   low=0, high=10000)
    noise: int = config_field(6, 'peak per-pixel luma noise (kept below the key threshold)',
                              low=0, high=_PAD_MAX - _PAD_MIN)
    scene: str = config_field('board', 'board (drifting PCB), footprint (down camera: one '
                              "part's pads) or part (up camera: its leads on the nozzle)",
                              choices=SCENES)
    part_dx: float = config_field(0.0, 'part scene: the part centre right of the nozzle, px',
                                  low=-64.0, high=64.0)
    part_dy: float = config_field(0.0, 'part scene: the part centre below the nozzle, px',
                                  low=-64.0, high=64.0)
    part_theta: float = config_field(0.0, 'part scene: the part turned on the nozzle, degrees '
                                     '(from +x towards +y)', low=-30.0, high=30.0)
    nozzle_dx: float = config_field(0.0, 'part scene: nozzle right of the frame centre, px',
                                    low=-64.0, high=64.0)
    nozzle_dy: float = config_field(0.0, 'part scene: nozzle below the frame centre, px',
                                    low=-64.0, high=64.0)
    edges: str = config_field('sharp', 'footprint and part scenes: sharp (a pixel is in a pad '
                              'or lead when its centre is: exact ground truth) or area (its '
                              'luma follows the share of it covered, as a sensor integrates '
                              'light: sub-pixel edges)', choices=EDGES)
    sensor_noise: float = config_field(0.0, 'Gaussian read noise, sigma in luma steps, drawn '
                                       'afresh for every frame (seeded by seed and frame '
                                       'number); with area edges it moves the key, so '
                                       'centroids jitter as on a real sensor', low=0.0,
                                       high=64.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        try:
            _ = self.frame_format  # validates evenness and stride against the layout
        except ValueError as error:
            odd = 'width' if self.width % 2 else 'height' if self.height % 2 else 'stride'
            raise ConfigError(odd, str(error)) from None
        if self.height < sequence_strip_rows(self.width) + 2 * BLOCK:
            raise ConfigError('height', f'must leave room below the '
                                        f'{sequence_strip_rows(self.width)}-row sequence strip, '
                                        f'got {self.height}')

    @property
    def frame_format(self) -> FrameFormat:
        return FrameFormat(self.width, self.height, self.layout, self.stride or None)

    @property
    def nozzle(self) -> tuple[float, float]:
        """Return the part scene's nozzle position in the frame, pixels."""
        return ((self.width - 1) / 2 + self.nozzle_dx, (self.height - 1) / 2 + self.nozzle_dy)


# -- sequence stamp ---------------------------------------------------------------------

def sequence_strip_rows(width: int) -> int:
    """Rows at the top of a ``width``-wide frame that carry the sequence stamp."""
    per_row = width // BLOCK
    return -(-2 * SEQUENCE_BITS // per_row) * BLOCK


def _bits(sequence: int) -> np.ndarray:
    value = sequence & 0xFFFFFFFF
    data = (value >> np.arange(SEQUENCE_BITS - 1, -1, -1, dtype=np.uint64)) & 1
    return np.concatenate([data, 1 - data]).astype(np.uint8)


def encode_sequence(y_plane: np.ndarray, sequence: int) -> None:
    """Stamp ``sequence`` (mod 2**32) into the top rows of a luma plane, in place."""
    width = y_plane.shape[1]
    per_row = width // BLOCK
    rows = sequence_strip_rows(width)
    levels = np.full(per_row * (rows // BLOCK), _LEVEL_0, np.uint8)
    bits = _bits(sequence)
    levels[:bits.size] = np.where(bits == 1, _LEVEL_1, _LEVEL_0)
    blocks = levels.reshape(rows // BLOCK, per_row)
    y_plane[:rows, :per_row * BLOCK] = np.repeat(np.repeat(blocks, BLOCK, 0), BLOCK, 1)
    y_plane[:rows, per_row * BLOCK:] = _LEVEL_0


def decode_sequence(y_plane: np.ndarray) -> int:
    """Read the sequence number stamped by the synthetic source (survives lossy coding).

    Each bit is the mean of the central 8x8 pixels of its 16x16 block; the stamp carries the
    complement of every bit, so a plane without a stamp (or one damaged beyond recovery)
    raises ``ValueError`` instead of returning a wrong number.
    """
    y_plane = np.asarray(y_plane)
    if y_plane.ndim != 2:
        raise ValueError(f'decode_sequence needs a 2-D luma plane, got shape {y_plane.shape}')
    height, width = y_plane.shape
    rows = sequence_strip_rows(width)
    if height < rows:
        raise ValueError(f'plane of {height} rows is too small for a sequence strip')
    per_row = width // BLOCK
    quarter = BLOCK // 4
    strip = y_plane[:rows, :per_row * BLOCK].astype(np.float32)
    blocks = strip.reshape(rows // BLOCK, BLOCK, per_row, BLOCK)
    means = blocks[:, quarter:BLOCK - quarter, :, quarter:BLOCK - quarter].mean(axis=(1, 3))
    bits = (means.reshape(-1)[:2 * SEQUENCE_BITS] > (_LEVEL_0 + _LEVEL_1) / 2).astype(np.int64)
    data, check = bits[:SEQUENCE_BITS], bits[SEQUENCE_BITS:]
    if np.any(data == check):
        raise ValueError('no valid sequence stamp in this plane (bits and their complement '
                         'disagree)')
    return int(sum(int(b) << (SEQUENCE_BITS - 1 - i) for i, b in enumerate(data)))


# -- the scene ----------------------------------------------------------------------------

@dataclass
class _Shape:
    kind: int
    x0: int        # bounding box in scene coordinates
    y0: int
    mask: np.ndarray


class _Scene:
    """The pre-rendered board (luma, per-phase chroma, material map) and its shapes."""

    def __init__(self, cfg: SyntheticConfig) -> None:
        self.rng = np.random.default_rng(cfg.seed)
        self.width = cfg.width + cfg.travel
        self.height = cfg.height + cfg.travel
        self.occupied = np.zeros((self.height, self.width), bool)
        self.material = np.zeros((self.height, self.width), np.uint8)
        self.luma = self._board()
        self.shapes: list[_Shape] = []
        megapixels = cfg.width * cfg.height / 1e6
        components = cfg.components or max(1, round(megapixels / 0.4))
        pads = cfg.pads or max(8, round(110 * megapixels))
        for _ in range(components):
            self._place_component()
        self._place_pads(pads)
        self._silkscreen()
        del self.occupied
        self._index_shapes()

    # board ---------------------------------------------------------------------------
    def _board(self) -> np.ndarray:
        h, w = self.height, self.width
        rng = self.rng
        cell = 64
        coarse = rng.normal(0.0, 1.0, (h // cell + 3, w // cell + 3))
        smooth = np.repeat(np.repeat(coarse, cell, 0), cell, 1)
        for axis in (0, 1):  # box blur: turns the blocky grid into soft blotches
            c = np.cumsum(smooth, axis=axis)
            smooth = (np.take(c, np.arange(cell, c.shape[axis]), axis=axis)
                      - np.take(c, np.arange(0, c.shape[axis] - cell), axis=axis)) / cell
        smooth = smooth[:h, :w]
        smooth *= 6.0 / max(1e-6, float(np.abs(smooth).max()))
        yy, xx = np.ogrid[:h, :w]
        weave = 2.0 * np.sin(xx * 0.9) * np.sin(yy * 0.9)
        luma = 44.0 + smooth + weave
        for _ in range(max(4, (h + w) // 60)):  # copper traces under the solder mask
            thickness = int(rng.integers(2, 7))
            if rng.random() < 0.5:
                y = int(rng.integers(0, h - thickness))
                x0, x1 = sorted(int(v) for v in rng.integers(0, w, 2))
                luma[y:y + thickness, x0:x1] += 34
                self.material[y:y + thickness, x0:x1] = _MATERIAL_IDS['trace']
            else:
                x = int(rng.integers(0, w - thickness))
                y0, y1 = sorted(int(v) for v in rng.integers(0, h, 2))
                luma[y0:y1, x:x + thickness] += 34
                self.material[y0:y1, x:x + thickness] = _MATERIAL_IDS['trace']
        return np.clip(luma, 8, _BOARD_MAX).astype(np.uint8)

    def _silkscreen(self) -> None:
        # Outlines and marks in white ink: bright to the eye, still below the key threshold.
        rng = self.rng
        for _ in range(max(4, (self.width * self.height) // 60000)):
            w, h = int(rng.integers(12, 80)), int(rng.integers(8, 50))
            x, y = int(rng.integers(0, self.width - w)), int(rng.integers(0, self.height - h))
            frame = np.zeros((h, w), bool)
            frame[[0, -1], :] = True
            frame[:, [0, -1]] = True
            free = self.material[y:y + h, x:x + w] != _MATERIAL_IDS['pad']
            free &= self.material[y:y + h, x:x + w] != _MATERIAL_IDS['lead']
            ink = frame & free
            self.luma[y:y + h, x:x + w][ink] = 132
            self.material[y:y + h, x:x + w][ink] = _MATERIAL_IDS['silk']

    # placement -------------------------------------------------------------------------
    def _free(self, x0: int, y0: int, w: int, h: int) -> bool:
        if x0 < 0 or y0 < 0 or x0 + w > self.width or y0 + h > self.height:
            return False
        g = _GAP
        return not self.occupied[max(0, y0 - g):y0 + h + g, max(0, x0 - g):x0 + w + g].any()

    def _reserve(self, x0: int, y0: int, w: int, h: int) -> None:
        self.occupied[y0:y0 + h, x0:x0 + w] = True

    def _paint(self, kind: int, x0: int, y0: int, mask: np.ndarray, material: str,
               luma: int) -> None:
        h, w = mask.shape
        self.luma[y0:y0 + h, x0:x0 + w][mask] = luma
        self.material[y0:y0 + h, x0:x0 + w][mask] = _MATERIAL_IDS[material]
        if kind >= 0:
            self.shapes.append(_Shape(kind, x0, y0, mask))

    def _pad_mask(self) -> tuple[int, np.ndarray]:
        rng = self.rng
        roll = rng.random()
        size_class = rng.choice([0, 1, 2], p=[0.25, 0.55, 0.2])
        low, high = ((2, 6), (6, 22), (22, 56))[size_class]
        if roll < 0.45:
            w, h = (int(v) for v in rng.integers(low, high + 1, 2))
            return KIND_RECT, np.ones((h, w), bool)
        if roll < 0.75:
            radius = float(rng.uniform(max(1.5, low / 2), high / 2))
            cx, cy = rng.uniform(0, 1, 2)   # sub-pixel centre: asymmetric rasterisation
            side = math.ceil(2 * radius + 2)
            yy, xx = np.mgrid[:side, :side]
            mask = (xx - (side - 1) / 2 - cx + 0.5) ** 2 + (yy - (side - 1) / 2 - cy + 0.5) ** 2
            return KIND_DISC, _trim(mask <= radius * radius)
        length = float(rng.uniform(max(6, low), max(8, high)))
        thickness = float(rng.uniform(4, max(5, length / 2)))
        angle = float(rng.uniform(0, math.pi))
        side = math.ceil(math.hypot(length, thickness)) + 2
        yy, xx = np.mgrid[:side, :side] - (side - 1) / 2
        ca, sa = math.cos(angle), math.sin(angle)
        along, across = xx * ca + yy * sa, -xx * sa + yy * ca
        mask = (np.abs(along) <= length / 2) & (np.abs(across) <= thickness / 2)
        return KIND_ROTATED, _trim(mask)

    def _place_pads(self, count: int) -> None:
        rng = self.rng
        placed = attempts = 0
        while placed < count and attempts < 30 * count:
            attempts += 1
            kind, mask = self._pad_mask()
            h, w = mask.shape
            x0 = int(rng.integers(0, self.width - w + 1))
            y0 = int(rng.integers(0, self.height - h + 1))
            if not self._free(x0, y0, w, h):
                continue
            self._reserve(x0, y0, w, h)
            self._paint(kind, x0, y0, mask, 'pad', int(rng.integers(_PAD_MIN, _PAD_MAX + 1)))
            placed += 1

    def _place_component(self) -> None:
        rng = self.rng
        for _ in range(200):
            body_w, body_h = int(rng.integers(50, 140)), int(rng.integers(28, 80))
            pitch = int(rng.integers(8, 15))
            lead_w, lead_len, overlap = pitch - _GAP - 1, int(rng.integers(8, 15)), 3
            vertical = rng.random() < 0.5  # leads on top/bottom (else left/right)
            if not vertical:
                body_w, body_h = body_h, body_w
            total_w = body_w + (0 if vertical else 2 * (lead_len - overlap))
            total_h = body_h + (2 * (lead_len - overlap) if vertical else 0)
            x0 = int(rng.integers(0, self.width - total_w + 1))
            y0 = int(rng.integers(0, self.height - total_h + 1))
            if not self._free(x0, y0, total_w, total_h):
                continue
            self._reserve(x0, y0, total_w, total_h)
            bx = x0 + (0 if vertical else lead_len - overlap)
            by = y0 + (lead_len - overlap if vertical else 0)
            self._paint(-1, bx, by, np.ones((body_h, body_w), bool), 'body', 24)
            self._paint(-1, bx + 4, by + 4, np.ones((4, 4), bool), 'silk', 110)  # pin-1 dot
            span = body_w if vertical else body_h
            leads = (span - 8) // pitch
            start = (span - leads * pitch) // 2 + 1
            lead_luma = int(rng.integers(_PAD_MIN + 5, _PAD_MAX + 1))
            for i in range(leads):
                along = start + i * pitch
                if vertical:
                    boxes = ((bx + along, y0, lead_w, lead_len),
                             (bx + along, by + body_h - overlap, lead_w, lead_len))
                else:
                    boxes = ((x0, by + along, lead_len, lead_w),
                             (bx + body_w - overlap, by + along, lead_len, lead_w))
                for lx, ly, lw, lh in boxes:
                    self._paint(KIND_LEAD, lx, ly, np.ones((lh, lw), bool), 'lead', lead_luma)
            return

    # ground-truth index ----------------------------------------------------------------
    def _index_shapes(self) -> None:
        n = len(self.shapes)
        self.x0 = np.array([s.x0 for s in self.shapes], np.int64)
        self.y0 = np.array([s.y0 for s in self.shapes], np.int64)
        self.w = np.array([s.mask.shape[1] for s in self.shapes], np.int64)
        self.h = np.array([s.mask.shape[0] for s in self.shapes], np.int64)
        self.kind = np.array([s.kind for s in self.shapes], np.uint8)
        self.area = np.zeros(n, np.int64)
        self.sum_x = np.zeros(n, np.int64)   # sums of pixel coordinates: exact integers
        self.sum_y = np.zeros(n, np.int64)
        self.first_x = np.zeros(n, np.int64)  # leftmost pixel of the top row (raster order)
        for i, s in enumerate(self.shapes):
            ys, xs = np.nonzero(s.mask)
            self.area[i] = xs.size
            self.sum_x[i] = int(xs.sum()) + s.x0 * xs.size
            self.sum_y[i] = int(ys.sum()) + s.y0 * xs.size
            self.first_x[i] = s.x0 + int(xs[0])


@dataclass(frozen=True)
class LandPattern:
    """One component's lead (= pad) centres and sizes, part coordinates (px, about its centre)."""

    centres: np.ndarray     # (N, 2)
    lead_size: tuple[float, float]
    across: np.ndarray      # (N,) True: the lead's length runs along y (top/bottom rows)
    body: tuple[float, float]   # half width, half height of the body


def land_pattern(seed: int) -> LandPattern:
    """Return the seed's component: a two-sided (SOIC-like) or four-sided (QFP-like) part."""
    rng = np.random.default_rng(seed + 7919)
    # A fractional pitch gives every lead its own sub-pixel phase, so the rasterisation errors
    # of the leads average out instead of adding up (the fit then sees sub-pixel poses).
    pitch = float(rng.integers(12, 19)) + float(rng.uniform(0.15, 0.85))
    per_side = int(rng.integers(4, 8))
    length, width = float(rng.integers(12, 19)), round(pitch * 0.5)
    four = bool(rng.random() < 0.5)
    half = per_side * pitch / 2 + 4
    along = (np.arange(per_side) - (per_side - 1) / 2) * pitch
    out = half + length / 2 - 3          # leads reach 3 px under the body
    centres, across = [], []
    for sign in (-1, 1):
        centres += [(a, sign * out) for a in along]
        across += [True] * per_side
        if four:
            centres += [(sign * out, a) for a in along]
            across += [False] * per_side
    return LandPattern(np.array(centres, np.float64), (float(width), length),
                       np.array(across), (half, half if four else half * 0.6))


def _rect_mask(cx: float, cy: float, width: float, height: float,
               angle: float) -> tuple[int, int, np.ndarray]:
    """Pixels (centres at integers) of a ``width`` x ``height`` rectangle turned by ``angle``."""
    radius = math.hypot(width, height) / 2 + 1
    x0, y0 = math.floor(cx - radius), math.floor(cy - radius)
    side = math.ceil(2 * radius) + 2
    yy, xx = np.mgrid[y0:y0 + side, x0:x0 + side]
    dx, dy = xx - cx, yy - cy
    c, s = math.cos(angle), math.sin(angle)
    mask = (np.abs(dx * c + dy * s) <= width / 2) & (np.abs(-dx * s + dy * c) <= height / 2)
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    return (x0 + int(cols[0]), y0 + int(rows[0]),
            mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1])


def _rect_coverage(cx: float, cy: float, width: float, height: float,
                   angle: float) -> tuple[int, int, np.ndarray]:
    """Share of each pixel (centres at integers) a turned rectangle covers, and its corner.

    Sampled on a regular grid of ``_COVERAGE_SAMPLES`` squared points per pixel.
    """
    radius = math.hypot(width, height) / 2 + 2
    x0, y0 = math.floor(cx - radius), math.floor(cy - radius)
    side = math.ceil(2 * radius) + 2
    steps = (np.arange(_COVERAGE_SAMPLES) + 0.5) / _COVERAGE_SAMPLES - 0.5
    ys = (y0 + np.arange(side))[:, None] + steps[None, :]          # (pixel, sample)
    xs = (x0 + np.arange(side))[:, None] + steps[None, :]
    dx = (xs - cx)[None, None, :, :]
    dy = (ys - cy)[:, :, None, None]
    c, s = math.cos(angle), math.sin(angle)
    inside = (np.abs(dx * c + dy * s) <= width / 2) & (np.abs(-dx * s + dy * c) <= height / 2)
    return x0, y0, inside.mean(axis=(1, 3))


class _MachineScene(_Scene):
    """The footprint (down camera) or the part on the nozzle (up camera); static, no travel."""

    def __init__(self, cfg: SyntheticConfig) -> None:
        self.rng = np.random.default_rng(cfg.seed)
        self.width, self.height = cfg.width, cfg.height
        self.edges = cfg.edges
        self.material = np.zeros((self.height, self.width), np.uint8)
        self.shapes: list[_Shape] = []
        pattern = land_pattern(cfg.seed)
        self._top = sequence_strip_rows(cfg.width)
        centre = np.array([(cfg.width - 1) / 2, (cfg.height - 1) / 2])
        lead_w, lead_l = pattern.lead_size
        if cfg.scene == 'footprint':
            self.luma = self._board()
            for (px, py), across in zip(pattern.centres + centre, pattern.across, strict=True):
                # Area edges light the pixels of a gap from both sides: 2 px narrower pads
                # keep every gap at least 4 px, so no gap pixel reaches the key.
                wider = 4 if cfg.edges == 'sharp' else 2
                size = (lead_w + wider, lead_l + 6) if across else (lead_l + 6, lead_w + wider)
                self._draw(KIND_RECT, px, py, *size, 0.0, 'pad', 210)
        else:
            self.luma = np.full((self.height, self.width), 40, np.uint8)
            self.material[:] = _MATERIAL_IDS['backdrop']
            nozzle = np.array(cfg.nozzle)
            angle = math.radians(cfg.part_theta)
            turn = np.array([[math.cos(angle), -math.sin(angle)],
                             [math.sin(angle), math.cos(angle)]])
            part = nozzle + np.array([cfg.part_dx, cfg.part_dy])
            self._draw(-1, *part, 2 * pattern.body[0], 2 * pattern.body[1], angle,
                       'part_body', 30)
            self._nozzle(nozzle, min(10.0, 0.5 * min(pattern.body)))
            for (lx, ly), across in zip(pattern.centres @ turn.T + part, pattern.across,
                                        strict=True):
                size = (lead_w, lead_l) if across else (lead_l, lead_w)
                self._draw(KIND_LEAD, lx, ly, *size, angle, 'lead', 215)
        self._index_shapes()

    def _nozzle(self, nozzle: np.ndarray, radius: float) -> None:
        # Drawn over the body and under the leads: a lead is never split by it.
        side = math.ceil(2 * radius) + 3
        x0, y0 = math.floor(nozzle[0] - side / 2), math.floor(nozzle[1] - side / 2)
        yy, xx = np.mgrid[y0:y0 + side, x0:x0 + side]
        disc = (xx - nozzle[0]) ** 2 + (yy - nozzle[1]) ** 2 <= radius * radius
        rows, cols = np.nonzero(disc.any(axis=1))[0], np.nonzero(disc.any(axis=0))[0]
        self._paint_checked(KIND_NOZZLE, x0 + int(cols[0]), y0 + int(rows[0]), _trim(disc),
                            'nozzle', 205)

    def _draw(self, kind: int, cx: float, cy: float, width: float, height: float,
              angle: float, material: str, luma: int) -> None:
        x0, y0, mask = _rect_mask(cx, cy, width, height, angle)
        if self.edges != 'area':
            self._paint_checked(kind, x0, y0, mask, material, luma)
            return
        cx0, cy0, coverage = _rect_coverage(cx, cy, width, height, angle)
        h, w = coverage.shape
        window = np.s_[max(cy0, 0):cy0 + h, max(cx0, 0):cx0 + w]
        coverage = coverage[max(cy0, 0) - cy0:, max(cx0, 0) - cx0:]
        below = self.luma[window].astype(np.float64)
        coverage = coverage[:below.shape[0], :below.shape[1]]
        self._paint_checked(kind, x0, y0, mask, material, luma)
        # The shape's own pixels (material, ground truth) keep the centre rule; the luma of
        # every pixel it touches is the covered share of the shape over what lay beneath.
        blended = np.rint(below + coverage * (luma - below)).astype(np.uint8)
        self.luma[window] = np.where(coverage > 0, blended, self.luma[window])

    def _paint_checked(self, kind: int, x0: int, y0: int, mask: np.ndarray, material: str,
                       luma: int) -> None:
        h, w = mask.shape
        if x0 < 1 or y0 < self._top + 1 or x0 + w > self.width - 1 or y0 + h > self.height - 1:
            raise ConfigError('scene', f'the part does not fit a {self.width}x{self.height} '
                              'frame below the sequence strip: use a larger frame')
        self._paint(kind, x0, y0, mask, material, luma)


def _trim(mask: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    return mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


# -- the source ---------------------------------------------------------------------------

class SyntheticSource(FrameSource):
    """Frames of the synthetic board (see the module docstring).

    Paced, frame ``n`` is due at ``start + n / fps`` on the monotonic clock; a reader that
    falls behind gets the newest due frame and the skipped numbers count as drops, like a
    camera. Unpaced, every ``read()`` renders the next frame immediately. Frames come from a
    pool of two buffers: a frame stays valid until the next ``read()``.
    """

    def __init__(self, config: SyntheticConfig | None = None) -> None:
        self.config = config = config or SyntheticConfig()
        self.format = config.frame_format
        self._scene = _Scene(config) if config.scene == 'board' else _MachineScene(config)
        self._noise_margin = 64
        rng = np.random.default_rng(config.seed + 1)
        self._noise = (rng.integers(0, config.noise + 1,
                                    (config.height + self._noise_margin,
                                     config.width + self._noise_margin), dtype=np.uint8)
                       if config.noise else None)
        self._strip_rows = sequence_strip_rows(config.width)
        self._chroma = self._chroma_phases() if self.format.pixel_format.subsampled else None
        self._pool = [Frame(self.format) for _ in range(2)]
        self._next_slot = 0
        self._running = False
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._t0: float | None = None
        self._last_index = -1
        self._frames = self._delivered = self._drops = 0
        self._meter = RateMeter()

    def _chroma_phases(self) -> dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]:
        # One half-resolution U/V image per offset parity, so chroma stays aligned with luma
        # whatever the (integer) offset.
        table_u = np.array([u for u, _ in _MATERIALS.values()], np.uint8)
        table_v = np.array([v for _, v in _MATERIALS.values()], np.uint8)
        material = self._scene.material
        phases = {}
        for py in (0, 1):
            for px in (0, 1):
                sub = material[py::2, px::2]
                phases[py, px] = (table_u[sub], table_v[sub])
        if self.config.scene != 'board':
            # Static scenes: a chroma sample that covers any lead or pad pixel has its colour,
            # so a chroma-gated key selects exactly the luma-keyed pixels (no 4:2:0 bias).
            h, w = material.shape
            blocks = material.reshape(h // 2, 2, w // 2, 2)
            sub = material[::2, ::2].copy()
            for name in ('pad', 'lead'):
                sub[(blocks == _MATERIAL_IDS[name]).any(axis=(1, 3))] = _MATERIAL_IDS[name]
            phases[0, 0] = (table_u[sub], table_v[sub])
        return phases

    # geometry ---------------------------------------------------------------------------
    def offset(self, sequence: int) -> tuple[int, int]:
        """Top-left corner of frame ``sequence`` in scene coordinates."""
        travel = self.config.travel
        if travel == 0 or self.config.scene != 'board':
            return 0, 0
        period = 2 * travel

        def position(speed: float) -> int:
            travelled = (sequence * speed) % period
            return math.floor(travel - abs(travelled - travel))

        return position(self.config.drift_x), position(self.config.drift_y)

    @property
    def strip_rows(self) -> int:
        """Rows at the top of each frame reserved for the sequence stamp (never keyed)."""
        return self._strip_rows

    def alignment_truth(self) -> tuple[float, float, float]:
        """Return the part scene's correction (dx, dy px; theta degrees) onto the footprint.

        ``pads ~= R(theta) @ leads + (dx, dy)`` with leads relative to the nozzle and pads
        relative to the footprint's centre (the datum), as ``picam_ros.machine.alignment``
        defines it; in mm when multiplied by a scale both cameras share.
        """
        cfg = self.config
        if cfg.scene != 'part':
            raise ValueError(f'alignment_truth: the {cfg.scene} scene has no part on a nozzle')
        angle = -math.radians(cfg.part_theta)
        c, s = math.cos(angle), math.sin(angle)
        dx, dy = cfg.part_dx, cfg.part_dy
        return (-(c * dx - s * dy), -(s * dx + c * dy), -cfg.part_theta)

    # rendering --------------------------------------------------------------------------
    def render(self, sequence: int, frame: Frame | None = None) -> Frame:
        """Render frame ``sequence`` into ``frame`` (or a new one) and return it."""
        if frame is None:
            frame = Frame(self.format)
        elif frame.format != self.format:
            raise ValueError(f'render: frame is {frame.format}, the source makes {self.format}')
        cfg = self.config
        w, h = cfg.width, cfg.height
        ox, oy = self.offset(sequence)
        scene = self._scene.luma[oy:oy + h, ox:ox + w]
        y = frame.y
        if self._noise is not None:
            margin = self._noise_margin
            nx, ny = (sequence * 37) % margin, (sequence * 23 + 11) % margin
            np.add(scene, self._noise[ny:ny + h, nx:nx + w], out=y)
        else:
            np.copyto(y, scene)
        if cfg.sensor_noise > 0:
            noise = np.random.default_rng([cfg.seed, sequence]).normal(
                0.0, cfg.sensor_noise, y.shape)
            np.copyto(y, np.clip(np.rint(y + noise), 0, 255).astype(np.uint8))
        encode_sequence(y, sequence)
        if self._chroma is not None:
            u_scene, v_scene = self._chroma[oy % 2, ox % 2]
            cx, cy = ox // 2, oy // 2
            u, v = frame.chroma()
            np.copyto(u, u_scene[cy:cy + h // 2, cx:cx + w // 2])
            np.copyto(v, v_scene[cy:cy + h // 2, cx:cx + w // 2])
            u[:self._strip_rows // 2] = 128
            v[:self._strip_rows // 2] = 128
        frame.sequence = sequence
        return frame

    def ground_truth(self, frame: Frame | int) -> np.ndarray:
        """Exact blobs of a frame (or a sequence number), as :data:`GROUND_TRUTH_DTYPE`.

        Includes every pad and lead with at least one visible pixel: ``clipped`` marks those
        cut by the frame edge or hidden in part under the sequence strip (their ``x``, ``y``,
        ``area`` and box describe the visible part, which is what a labeller sees), and
        ``touches_border`` those with a pixel on the frame border. Centroids are means of
        pixel coordinates (origin at the centre of the top-left pixel), the same definition as
        OpenCV's ``connectedComponentsWithStats``; the order is the centroid engine's: area
        descending, ties in raster order of each blob's first pixel. ``pad_id`` identifies a
        shape across frames. Filter ``~result['clipped']`` for blobs fully in view.
        """
        sequence = frame if isinstance(frame, (int, np.integer)) else frame.sequence
        cfg = self.config
        s = self._scene
        ox, oy = self.offset(int(sequence))
        top = oy + self._strip_rows   # visible window in scene coordinates
        left, right, bottom = ox, ox + cfg.width, oy + cfg.height
        x1, y1 = s.x0 + s.w, s.y0 + s.h
        inside = (s.x0 >= left) & (x1 <= right) & (s.y0 >= top) & (y1 <= bottom)
        partial = ~inside & (s.x0 < right) & (x1 > left) & (s.y0 < bottom) & (y1 > top)
        idx = np.nonzero(inside)[0]
        rows = []
        out = np.zeros(idx.size, GROUND_TRUTH_DTYPE)
        area = s.area[idx]
        out['area'] = area
        out['x'] = s.sum_x[idx] / area - ox
        out['y'] = s.sum_y[idx] / area - oy
        out['bbox_x'] = s.x0[idx] - ox
        out['bbox_y'] = s.y0[idx] - oy
        out['bbox_w'] = s.w[idx]
        out['bbox_h'] = s.h[idx]
        out['kind'] = s.kind[idx]
        out['pad_id'] = idx
        first = (s.y0[idx] - oy) * cfg.width + (s.first_x[idx] - ox)
        for i in np.nonzero(partial)[0]:
            shape = s.shapes[i]
            cx0, cy0 = max(left, shape.x0), max(top, shape.y0)
            cx1, cy1 = min(right, int(x1[i])), min(bottom, int(y1[i]))
            sub = shape.mask[cy0 - shape.y0:cy1 - shape.y0, cx0 - shape.x0:cx1 - shape.x0]
            ys, xs = np.nonzero(sub)
            if xs.size == 0:
                continue
            fx, fy = xs + (cx0 - ox), ys + (cy0 - oy)
            rows.append((fx.mean(), fy.mean(), xs.size, fx.min(), fy.min(),
                         fx.max() - fx.min() + 1, fy.max() - fy.min() + 1, False, True,
                         s.kind[i], i, int(fy[0]) * cfg.width + int(fx[0])))
        if rows:
            extra = np.zeros(len(rows), GROUND_TRUTH_DTYPE)
            for name, column in zip(GROUND_TRUTH_DTYPE.names, zip(*rows), strict=False):
                extra[name] = column
            out = np.concatenate([out, extra])
            first = np.concatenate([first, [r[-1] for r in rows]])
        out['touches_border'] = ((out['bbox_x'] == 0) | (out['bbox_y'] == 0)
                                 | (out['bbox_x'] + out['bbox_w'] == cfg.width)
                                 | (out['bbox_y'] + out['bbox_h'] == cfg.height))
        order = np.lexsort((first, -out['area'].astype(np.int64)))
        return out[order]

    # FrameSource ------------------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            if self._running:
                return
            self._running = True
            self._stopped.clear()
            self._t0 = None

    def stop(self) -> None:
        with self._lock:
            self._running = False
            self._stopped.set()

    def read(self, timeout: float | None = None) -> Frame:
        if not self._running:
            raise SourceStopped('synthetic source is not running')
        cfg = self.config
        index = self._last_index + 1
        if cfg.paced:
            now = time.monotonic()
            if self._t0 is None:
                self._t0 = now - index / cfg.fps   # keeps numbering across stop/start
            index = max(index, int((now - self._t0) * cfg.fps))
            wait = self._t0 + index / cfg.fps - now
            if wait > 0:
                if timeout is not None and wait > timeout:
                    if self._stopped.wait(timeout):
                        raise SourceStopped('synthetic source stopped')
                    raise FrameTimeout(f'no frame within {timeout:g} s')
                if self._stopped.wait(wait):
                    raise SourceStopped('synthetic source stopped')
        frame = self._pool[self._next_slot]
        self._next_slot ^= 1
        self.render(index, frame)
        frame.stamp_ns = time.time_ns()
        frame.mono_ns = time.monotonic_ns()
        self._drops += index - self._last_index - 1
        self._last_index = index
        self._frames += 1
        self._delivered += 1
        self._meter.add(frame.mono_ns)
        return frame

    @property
    def stats(self) -> SourceStats:
        return SourceStats(frames=self._frames, delivered=self._delivered, drops=self._drops,
                           restarts=0, fps=self._meter.fps, last_error=None,
                           running=self._running)
