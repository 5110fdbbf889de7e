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

"""Sub-pixel positions from edge pixels, against the synthetic part's exact geometry.

The truth is where the scene put each lead (its land pattern turned and moved by the pose),
not the centroid of its keyed pixels: that centroid is what the refinement improves on.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from picam_ros.centroids.engine import CENTROID_DTYPE, find_centroids, KeyingParams
from picam_ros.machine.subpixel import edge_weighted_centres
from picam_ros.machine.vision import LEADS_KEYING
from picam_ros.sources.synthetic import land_pattern, SyntheticConfig, SyntheticSource


def lead_centres(source: SyntheticSource) -> np.ndarray:
    """Where the part scene put each lead's centre (px)."""
    cfg = source.config
    angle = math.radians(cfg.part_theta)
    turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return (land_pattern(cfg.seed).centres @ turn.T + cfg.nozzle +
            np.array([cfg.part_dx, cfg.part_dy]))


def errors(found: np.ndarray, truth: np.ndarray) -> np.ndarray:
    distance = np.linalg.norm(found[:, None, :] - truth[None, :, :], axis=2)
    return distance.min(axis=1)


def measured(source: SyntheticSource, sequence: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return the engine's centroids and the edge-weighted centres of the leads."""
    frame = source.render(sequence)
    u, v = frame.chroma()
    blobs = find_centroids(frame.y, LEADS_KEYING, u, v).blobs
    engine = np.column_stack([blobs['x'], blobs['y']]).astype(np.float64)
    return engine, edge_weighted_centres(frame.y, blobs, LEADS_KEYING, u, v)


def part(seed: int, sensor_noise: float = 0.0) -> SyntheticSource:
    rng = np.random.default_rng(seed)
    return SyntheticSource(SyntheticConfig(
        width=640, height=480, scene='part', paced=False, seed=seed, edges='area',
        sensor_noise=sensor_noise, part_theta=float(rng.uniform(-30, 30)),
        part_dx=float(rng.uniform(-20, 20)), part_dy=float(rng.uniform(-20, 20))))


@pytest.mark.parametrize('seed', range(6))
def test_edge_pixels_put_each_lead_within_a_twentieth_of_a_pixel_of_its_centre(seed):
    source = part(seed)
    engine, refined = measured(source)
    truth = lead_centres(source)
    assert len(refined) == len(truth)
    assert errors(refined, truth).max() < 0.05
    # The keyed pixels alone cannot: the outline quantises the centroid.
    assert errors(engine, truth).max() > 2 * errors(refined, truth).max()


def test_sensor_noise_moves_the_positions_a_little_from_frame_to_frame():
    source = part(3, sensor_noise=2.0)
    truth = lead_centres(source)
    _, first = measured(source, 0)
    _, second = measured(source, 1)
    moved = np.linalg.norm(first - second, axis=1)
    assert moved.min() > 0
    assert errors(first, truth).max() < 0.1 and errors(second, truth).max() < 0.1


def test_a_bright_neighbour_the_chroma_key_rejects_is_neither_edge_nor_background():
    luma = np.full((40, 40), 40, np.uint8)
    luma[10:20, 10:16] = 215           # the blob: keyed, centre (12.5, 14.5)
    luma[10:20, 16:24] = 205           # touching it: bright, but chroma fails the key
    u = np.full((20, 20), 100, np.uint8)
    v = np.full((20, 20), 120, np.uint8)
    u[:, 8:] = 170                     # columns 16 and up: the neighbour's colour
    keying = KeyingParams(luma_min=150, u_max=150, v_min=90)
    blobs = find_centroids(luma, keying, u, v).blobs
    assert len(blobs) == 1 and blobs.dtype == CENTROID_DTYPE
    assert tuple(edge_weighted_centres(luma, blobs, keying, u, v)[0]) == pytest.approx(
        (12.5, 14.5), abs=1e-9)
