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

"""The centroid node's per-frame work on real synthetic frames, through message payloads."""

import numpy as np
import pytest

from picam_ros.centroids.engine import KeyingParams
from picam_ros.centroids.pipeline import CentroidPipeline
from picam_ros.centroids.settings import KeyingProfiles
from picam_ros.core.pacing import DecimationConfig
from picam_ros.core.payloads import CLOUD_DTYPE, cloud_payload, image_payload
from picam_ros.sources.synthetic import SyntheticConfig, SyntheticSource

WIDTH, HEIGHT = 320, 240


@pytest.fixture(scope='module')
def source():
    return SyntheticSource(SyntheticConfig(width=WIDTH, height=HEIGHT, paced=False, seed=3))


class FakeClock:
    """A monotonic clock the test advances (decimation and rates depend on arrival time)."""

    def __init__(self):
        self.now = 0

    def __call__(self):
        return self.now


def pipeline_for(names=('pads',), keying=None, decimation=None, clock=None):
    profiles = KeyingProfiles(list(names))
    settings = profiles.build({})
    settings.update(keying or {})
    return CentroidPipeline(profiles, settings, decimation, clock_ns=clock or FakeClock())


def planes_of(pipeline, frame, encoding):
    payload = image_payload(frame, encoding)
    return pipeline.planes(payload.encoding, payload.height, payload.width, payload.step,
                           payload.data)


@pytest.mark.parametrize('encoding', ['nv21', 'nv12', 'mono8', 'bgr8'])
def test_centroids_from_each_published_encoding_match_the_ground_truth(source, encoding):
    frame = source.render(7)
    truth = source.ground_truth(frame)
    pipeline = pipeline_for()
    (result,) = pipeline.process(planes_of(pipeline, frame, encoding))
    assert result.profile == 'pads'
    assert result.blobs.shape[0] == truth.shape[0] >= 10
    assert np.abs(result.blobs['x'] - truth['x']).max() < 1e-6
    assert np.abs(result.blobs['y'] - truth['y']).max() < 1e-6
    assert np.array_equal(result.blobs['area'], truth['area'])


def test_cloud_points_match_the_ground_truth_within_half_a_pixel(source):
    frame = source.render(11)
    truth = source.ground_truth(frame)
    pipeline = pipeline_for()
    (result,) = pipeline.process(planes_of(pipeline, frame, 'nv21'))
    points = np.frombuffer(cloud_payload(result.blobs).data, dtype=CLOUD_DTYPE)
    assert np.abs(points['x'] - truth['x']).max() < 0.5
    assert np.abs(points['y'] - truth['y']).max() < 0.5
    assert np.array_equal(points['area'], truth['area'].astype(np.float32))


def test_a_keying_change_applies_from_the_next_processed_frame(source):
    frame = source.render(2)
    pipeline = pipeline_for()
    planes = planes_of(pipeline, frame, 'nv21')
    before = pipeline.process(planes)[0].blobs.shape[0]
    pipeline.set_keying({'pads': KeyingParams(luma_min=250)})
    after = pipeline.process(planes)[0].blobs.shape[0]
    assert before >= 10 and after < before


def test_each_profile_keys_with_its_own_settings(source):
    frame = source.render(4)
    pipeline = pipeline_for(('pads', 'strict'),
                            {'strict': KeyingParams(min_area=100)})
    results = {r.profile: r for r in pipeline.process(planes_of(pipeline, frame, 'nv21'))}
    assert set(results) == {'pads', 'strict'}
    assert results['strict'].blobs['area'].min() >= 100
    assert results['strict'].blobs.shape[0] < results['pads'].blobs.shape[0]


def test_chroma_profile_on_a_mono_image_is_reported_and_the_others_still_run(source):
    frame = source.render(5)
    pipeline = pipeline_for(('pads', 'gold'), {'gold': KeyingParams(v_min=140)})
    results = pipeline.process(planes_of(pipeline, frame, 'mono8'))
    assert [r.profile for r in results] == ['pads']
    stats = pipeline.report()
    assert stats.errors == 1 and "'gold'" in stats.last_error


def test_chroma_gate_uses_the_message_chroma(source):
    frame = source.render(6)
    pipeline = pipeline_for(('gold',), {'gold': KeyingParams(v_min=140)})
    (gold,) = pipeline.process(planes_of(pipeline, frame, 'nv21'))
    (plain,) = pipeline_for().process(planes_of(pipeline, frame, 'nv21'))
    # Pads are gold (V 152); leads are tin (V 130) and drop out.
    assert 0 < gold.blobs.shape[0] < plain.blobs.shape[0]


def test_setting_keying_for_only_some_profiles_is_refused():
    pipeline = pipeline_for(('pads', 'leads'))
    with pytest.raises(ValueError, match='leads'):
        pipeline.set_keying({'pads': KeyingParams()})


def test_decimated_frames_are_counted_as_skipped_and_rates_use_the_window():
    clock = FakeClock()
    pipeline = pipeline_for(decimation=DecimationConfig(process_every_n=5), clock=clock)
    accepted = 0
    for _ in range(50):
        clock.now += 40_000_000
        accepted += pipeline.accept()
    stats = pipeline.report()
    assert (accepted, stats.received, stats.processed, stats.skipped) == (10, 50, 10, 40)
    assert stats.seconds == pytest.approx(2.0)
    assert stats.rate_hz == pytest.approx(5.0) and stats.received_hz == pytest.approx(25.0)


def test_report_starts_a_new_window_and_tracks_input_age():
    clock = FakeClock()
    pipeline = pipeline_for(clock=clock)
    assert pipeline.report().last_frame_age_s is None
    clock.now += 10_000_000
    pipeline.accept()
    clock.now += 500_000_000
    first = pipeline.report()
    assert first.received == 1 and first.last_frame_age_s == pytest.approx(0.5)
    clock.now += 1_000_000_000
    second = pipeline.report()
    assert second.received == 0 and second.rate_hz == 0.0


def test_processing_time_and_blob_counts_are_reported(source):
    frame = source.render(8)
    pipeline = pipeline_for()
    pipeline.accept()
    (result,) = pipeline.process(planes_of(pipeline, frame, 'nv21'))
    stats = pipeline.report()
    assert stats.blobs == {'pads': result.blobs.shape[0]}
    assert stats.processing_ns_max > 0 and stats.dropped == {'pads': 0}


def test_blobs_cut_by_max_centroids_are_counted_as_dropped(source):
    frame = source.render(9)
    pipeline = pipeline_for(keying={'pads': KeyingParams(max_centroids=5)})
    (result,) = pipeline.process(planes_of(pipeline, frame, 'nv21'))
    total = source.ground_truth(frame).shape[0]
    assert result.blobs.shape[0] == 5 and result.dropped == total - 5
    assert pipeline.report().dropped == {'pads': total - 5}


def test_debug_image_shows_the_key_of_the_profile(source):
    frame = source.render(10)
    truth = source.ground_truth(frame)
    pipeline = pipeline_for()
    planes = planes_of(pipeline, frame, 'nv21')
    (result,) = pipeline.process(planes)
    image = pipeline.debug_image('pads', planes, result.blobs)
    assert image.shape == (HEIGHT, WIDTH, 3)
    biggest = truth[0]
    corner = image[biggest['bbox_y'], biggest['bbox_x']:biggest['bbox_x'] + biggest['bbox_w']]
    assert (corner[:, 1] == 255).any()
    cx, cy = np.rint([result.blobs['x'][0], result.blobs['y'][0]]).astype(int)
    assert image[cy, cx].tolist() == [0, 0, 255]
