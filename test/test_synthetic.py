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

"""SyntheticSource: exact ground truth, key-safe board, sequence stamp, pacing."""

import shutil
import subprocess
import threading

import cv2
import numpy as np
import pytest

from picam_ros.core.frames import FrameFormat
from picam_ros.sources import FrameTimeout, make_source, SourceStopped
from picam_ros.sources.synthetic import (
    decode_sequence,
    encode_sequence,
    KEY_THRESHOLD,
    KIND_LEAD,
    land_pattern,
    sequence_strip_rows,
    SyntheticConfig,
    SyntheticSource,
)

SMALL = {'width': 320, 'height': 256}


def opencv_blobs(frame, connectivity=4):
    """(x, y, area, bbox...) rows of every blob of the default key, sorted for comparison."""
    mask = (frame.y >= KEY_THRESHOLD).astype(np.uint8)
    n, _, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=connectivity)
    rows = [(*centroids[i], stats[i, cv2.CC_STAT_AREA], *stats[i, :4]) for i in range(1, n)]
    return np.array(sorted(rows), dtype=float).reshape(-1, 7)


def truth_rows(truth):
    rows = zip(truth['x'], truth['y'], truth['area'], truth['bbox_x'], truth['bbox_y'],
               truth['bbox_w'], truth['bbox_h'], strict=True)
    return np.array(sorted(rows), dtype=float).reshape(-1, 7)


@pytest.fixture(scope='module')
def moving_source():
    # Fractional drift in both axes: offsets change by 0 or 1 px from frame to frame.
    return SyntheticSource(SyntheticConfig(width=384, height=320, paced=False, drift_x=2.3,
                                           drift_y=-1.7, travel=40, seed=3))


@pytest.mark.parametrize('sequence', [0, 1, 7, 18, 35, 36, 1000])
@pytest.mark.parametrize('connectivity', [4, 8])
def test_ground_truth_equals_opencv_labelling_of_the_rendered_frame(
        moving_source, sequence, connectivity):
    frame = moving_source.render(sequence)
    truth = moving_source.ground_truth(frame)
    expected = opencv_blobs(frame, connectivity)
    got = truth_rows(truth)
    assert got.shape == expected.shape and len(got) > 5
    assert np.array_equal(got[:, 2:], expected[:, 2:])          # areas and boxes exactly
    np.testing.assert_allclose(got[:, :2], expected[:, :2], rtol=0, atol=1e-9)


def test_ground_truth_marks_blobs_cut_by_the_frame_edge_or_the_sequence_strip(moving_source):
    truth = np.concatenate([moving_source.ground_truth(s) for s in range(40)])
    right = truth['bbox_x'] + truth['bbox_w']
    bottom = truth['bbox_y'] + truth['bbox_h']
    at_edge = ((truth['bbox_x'] == 0) | (right == 384) | (bottom == 320)
               | (truth['bbox_y'] == moving_source.strip_rows))
    assert truth['clipped'].any() and (~truth['clipped']).any()
    assert at_edge[truth['clipped']].all()
    assert (truth['bbox_y'] >= moving_source.strip_rows).all()
    assert np.array_equal(truth['touches_border'],
                          (truth['bbox_x'] == 0) | (right == 384) | (bottom == 320))


def test_ground_truth_follows_the_drift_exactly():
    src = SyntheticSource(SyntheticConfig(**SMALL, paced=False, drift_x=1.0, drift_y=0.0,
                                          travel=50))
    a, b = src.ground_truth(10), src.ground_truth(11)
    common = np.intersect1d(a[~a['clipped']]['pad_id'], b[~b['clipped']]['pad_id'])
    assert common.size > 3
    xa = dict(zip(a['pad_id'], a['x'], strict=True))
    xb = dict(zip(b['pad_id'], b['x'], strict=True))
    assert all(xa[p] - xb[p] == 1.0 for p in common)


def test_ground_truth_is_in_the_centroid_engine_order(moving_source):
    truth = moving_source.ground_truth(5)
    area = truth['area'].astype(np.int64)
    assert (np.diff(area) <= 0).all()


def test_ground_truth_agrees_with_the_centroid_engine_within_0_05_px():
    centroids = pytest.importorskip('picam_ros.centroids.engine',
                                    reason='centroid engine not importable (not built yet)')
    src = SyntheticSource(SyntheticConfig(width=640, height=480, paced=False, seed=7))
    params = centroids.KeyingParams()
    for sequence in (0, 9, 50):
        frame = src.render(sequence)
        truth = src.ground_truth(frame)
        found = centroids.find_centroids_in_frame(frame, params).blobs
        assert len(found) == len(truth)
        np.testing.assert_array_equal(found['area'], truth['area'])
        assert np.abs(found['x'] - truth['x']).max() < 0.05
        assert np.abs(found['y'] - truth['y']).max() < 0.05


def test_board_stays_below_the_key_threshold_and_pads_above_it_with_maximum_noise():
    src = SyntheticSource(SyntheticConfig(**SMALL, paced=False, noise=9, seed=11))
    for sequence in range(0, 60, 7):
        frame = src.render(sequence)
        on_pad = np.zeros(frame.y.shape, bool)
        for blob in src.ground_truth(frame):
            shape = src._scene.shapes[blob['pad_id']]
            ox, oy = src.offset(sequence)
            y0, x0 = shape.y0 - oy, shape.x0 - ox
            ys, xs = np.nonzero(shape.mask)
            keep = (ys + y0 >= src.strip_rows) & (ys + y0 < 256) & (xs + x0 >= 0) & \
                (xs + x0 < 320)
            on_pad[ys[keep] + y0, xs[keep] + x0] = True
        assert frame.y[~on_pad].max() < KEY_THRESHOLD
        assert frame.y[on_pad].min() >= KEY_THRESHOLD


def test_scene_has_pads_of_varied_size_and_shape_and_component_leads():
    src = SyntheticSource(SyntheticConfig(width=1024, height=1024, paced=False))
    truth = src.ground_truth(0)
    assert len(truth) > 80
    assert truth['area'].min() <= 16 and truth['area'].max() >= 300
    assert set(np.unique(truth['kind'])) == {0, 1, 2, 3}  # rect, rotated, disc, lead


def test_same_seed_gives_the_same_frames_and_another_seed_another_board():
    a = SyntheticSource(SyntheticConfig(**SMALL, seed=1)).render(4)
    b = SyntheticSource(SyntheticConfig(**SMALL, seed=1)).render(4)
    c = SyntheticSource(SyntheticConfig(**SMALL, seed=2)).render(4)
    assert np.array_equal(a.data, b.data)
    assert not np.array_equal(a.y, c.y)


@pytest.mark.parametrize('sequence', [0, 1, 255, 65536, 123456789, 2**32 - 1])
@pytest.mark.parametrize('width', [256, 320, 1024, 1920])
def test_sequence_stamp_round_trips(sequence, width):
    plane = np.zeros((sequence_strip_rows(width) + 16, width), np.uint8)
    encode_sequence(plane, sequence)
    assert decode_sequence(plane) == sequence
    assert plane.max() < KEY_THRESHOLD


def test_sequence_stamp_survives_noise_of_a_lossy_codec():
    plane = np.zeros((64, 320), np.uint8)
    encode_sequence(plane, 0xA5C3F00F)
    noisy = plane.astype(int) + np.random.default_rng(0).integers(-25, 26, plane.shape)
    assert decode_sequence(np.clip(noisy, 0, 255).astype(np.uint8)) == 0xA5C3F00F


def test_plane_without_a_stamp_is_rejected():
    with pytest.raises(ValueError, match='no valid sequence stamp'):
        decode_sequence(np.full((64, 320), 60, np.uint8))


@pytest.mark.skipif(shutil.which('ffmpeg') is None, reason='ffmpeg not installed')
def test_sequence_stamp_survives_h264_round_trip():
    src = SyntheticSource(SyntheticConfig(**SMALL, paced=False))
    frames = [src.render(n).data.tobytes() for n in range(100, 110)]
    size = '320x256'
    encoded = subprocess.run(
        ['ffmpeg', '-loglevel', 'error', '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', size,
         '-i', 'pipe:0', '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '35', '-f', 'h264',
         'pipe:1'], input=b''.join(frames), capture_output=True, check=True, timeout=60).stdout
    decoded = subprocess.run(
        ['ffmpeg', '-loglevel', 'error', '-f', 'h264', '-i', 'pipe:0', '-f', 'rawvideo',
         '-pix_fmt', 'gray', 'pipe:1'], input=encoded, capture_output=True, check=True,
        timeout=60).stdout
    planes = np.frombuffer(decoded, np.uint8).reshape(-1, 256, 320)
    assert [decode_sequence(p) for p in planes] == list(range(100, 110))


def test_frames_carry_their_sequence_in_pixels(moving_source):
    assert decode_sequence(moving_source.render(424242).y) == 424242


@pytest.mark.parametrize('layout, stride', [('nv21', None), ('nv12', 352), ('mono8', None),
                                            ('i420', 384)])
def test_every_layout_shows_the_same_scene(layout, stride):
    reference = SyntheticSource(SyntheticConfig(**SMALL)).render(3)
    src = SyntheticSource(SyntheticConfig(**SMALL, layout=layout, stride=stride or 0))
    frame = src.render(3)
    assert frame.format == FrameFormat(320, 256, layout, stride)
    assert np.array_equal(frame.y, reference.y)
    if layout != 'mono8':
        assert np.array_equal(frame.to_i420(), reference.data)


def test_unpaced_source_numbers_frames_consecutively_and_reuses_buffers():
    with SyntheticSource(SyntheticConfig(**SMALL, paced=False)) as src:
        frames = [src.read() for _ in range(4)]
        assert [decode_sequence(f.y) for f in frames[-1:]] == [3]
        assert frames[0].data is frames[2].data
        stats = src.stats
    assert (stats.frames, stats.delivered, stats.drops) == (4, 4, 0)


def test_frames_iterator_ends_when_the_source_stops():
    src = SyntheticSource(SyntheticConfig(**SMALL, paced=False))
    src.start()
    sequences = []
    for frame in src.frames():
        sequences.append(frame.sequence)
        if len(sequences) == 3:
            src.stop()
    assert sequences == [0, 1, 2]


def test_paced_source_skips_frames_a_slow_reader_missed_and_counts_them_as_drops():
    with SyntheticSource(SyntheticConfig(**SMALL, fps=200.0)) as src:
        sequences = [src.read(timeout=5).sequence]
        threading.Event().wait(0.1)   # a slow consumer: 20 frame periods pass
        sequences += [src.read(timeout=5).sequence for _ in range(3)]
        stats = src.stats
    assert sequences == sorted(set(sequences))
    assert sequences[1] - sequences[0] > 1
    assert stats.drops == sequences[-1] - sequences[0] - (len(sequences) - 1)


def test_paced_read_times_out_when_the_next_frame_is_not_due():
    with SyntheticSource(SyntheticConfig(**SMALL, fps=0.5)) as src:
        src.read(timeout=5)
        with pytest.raises(FrameTimeout):
            src.read(timeout=0.01)


def test_stop_ends_a_waiting_read():
    src = SyntheticSource(SyntheticConfig(**SMALL, fps=0.2))
    src.start()
    src.read(timeout=5)
    outcome = []
    reader = threading.Thread(target=lambda: outcome.append(_read_error(src)))
    reader.start()
    src.stop()
    reader.join(timeout=10)
    assert outcome == [SourceStopped]


def _read_error(src):
    try:
        src.read()
    except Exception as exc:  # noqa: BLE001 - the test inspects the type
        return type(exc)
    return None


def test_read_before_start_is_an_error():
    with pytest.raises(SourceStopped):
        SyntheticSource(SyntheticConfig(**SMALL)).read()


@pytest.mark.parametrize('changes, message', [
    ({'width': 321}, 'even'),
    ({'height': 40}, 'height'),
    ({'layout': 'rgb'}, 'layout'),
    ({'noise': 99}, 'noise'),
    ({'fps': 0.0}, 'fps'),
])
def test_invalid_config_is_rejected_naming_the_field(changes, message):
    with pytest.raises(ValueError, match=message):
        SyntheticConfig(**{**SMALL, **changes})


def test_make_source_builds_the_synthetic_source_by_default():
    src = make_source(SyntheticConfig(**SMALL))
    assert isinstance(src, SyntheticSource) and src.format == FrameFormat(320, 256, 'i420')


# -- the sensor model: read noise and area edges --------------------------------------------

def machine_scene(**overrides) -> SyntheticSource:
    return SyntheticSource(SyntheticConfig(width=640, height=480, scene='part', paced=False,
                                           seed=2, part_theta=11.0, **overrides))


def test_sensor_noise_is_fresh_per_frame_reproducible_and_of_the_configured_sigma():
    quiet, noisy = machine_scene(), machine_scene(sensor_noise=3.0)
    again = machine_scene(sensor_noise=3.0)
    backdrop = np.s_[400:, :]     # the blue backdrop below the part: far from 0 and 255
    first = noisy.render(7).y[backdrop].astype(np.int16)
    assert np.array_equal(first, again.render(7).y[backdrop])      # seeded by seed + frame
    assert not np.array_equal(first, noisy.render(8).y[backdrop])  # fresh on the next frame
    difference = first - quiet.render(7).y[backdrop]
    assert np.std(difference) == pytest.approx(3.0, rel=0.05)
    assert abs(np.mean(difference)) < 0.05


def test_without_sensor_noise_frames_are_as_before():
    plain = SyntheticSource(SyntheticConfig(width=640, height=480, scene='part', paced=False,
                                            seed=2, part_theta=11.0))
    assert np.array_equal(plain.render(3).y, machine_scene(sensor_noise=0.0).render(3).y)


def test_area_edges_give_each_lead_its_covered_area_of_light():
    # An edge pixel's luma is the covered share of the lead over the backdrop: summed over
    # a lead and its rim, light above the backdrop is the lead's true area, turned by 11
    # degrees, to a fraction of a pixel.
    source = machine_scene(edges='area', noise=0)
    frame = source.render(0)
    truth = source.ground_truth(frame)
    lead = truth[truth['kind'] == KIND_LEAD][0]
    x, y, w, h = (int(lead[k]) for k in ('bbox_x', 'bbox_y', 'bbox_w', 'bbox_h'))
    window = frame.y[y - 2:y + h + 2, x - 2:x + w + 2].astype(np.float64)
    backdrop, level = 40.0, 215.0
    light = np.clip((window - backdrop) / (level - backdrop), 0, None).sum()
    width, length = land_pattern(2).lead_size
    assert light == pytest.approx(width * length, abs=1.0)
