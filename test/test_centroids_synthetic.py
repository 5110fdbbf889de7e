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

"""On the synthetic PCB scene the engine reports exactly the scene's known pads and leads."""

from __future__ import annotations

import numpy as np
import pytest

from picam_ros.centroids.engine import find_centroids_in_frame, KeyingParams
from picam_ros.sources.synthetic import KEY_THRESHOLD, SyntheticConfig, SyntheticSource

PARAMS = KeyingParams(luma_min=KEY_THRESHOLD, max_centroids=100_000)


@pytest.mark.parametrize('layout, stride',
                         [('i420', 0), ('nv12', 0), ('nv21', 384), ('mono8', 330)])
def test_blobs_of_synthetic_frames_are_the_scenes_ground_truth(layout, stride):
    source = SyntheticSource(SyntheticConfig(width=320, height=256, layout=layout,
                                             stride=stride, paced=False, seed=5))
    for sequence in (0, 7, 40):
        frame = source.render(sequence)
        truth = source.ground_truth(frame)
        result = find_centroids_in_frame(frame, PARAMS)
        assert len(truth) > 10
        assert result.dropped == 0
        blobs = result.blobs
        for name in ('area', 'bbox_x', 'bbox_y', 'bbox_w', 'bbox_h', 'touches_border'):
            np.testing.assert_array_equal(blobs[name], truth[name], err_msg=name)
        np.testing.assert_allclose(blobs['x'], truth['x'], rtol=0, atol=1e-9)
        np.testing.assert_allclose(blobs['y'], truth['y'], rtol=0, atol=1e-9)


def test_cap_on_a_synthetic_frame_keeps_the_largest_pads_and_counts_the_rest():
    source = SyntheticSource(SyntheticConfig(width=320, height=256, paced=False, seed=5))
    frame = source.render(3)
    truth = source.ground_truth(frame)
    result = find_centroids_in_frame(frame, PARAMS.replace(max_centroids=5))
    np.testing.assert_array_equal(result.blobs['area'], truth['area'][:5])
    assert result.dropped == len(truth) - 5
