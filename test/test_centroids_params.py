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

"""Keying parameters are validated in one place; bad input is a ValueError naming the problem."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest

from picam_ros.centroids.engine import (
    find_centroids,
    find_centroids_in_frame,
    key_mask,
    KeyingParams,
)
from picam_ros.core.frames import Frame, FrameFormat

LUMA = np.zeros((8, 10), np.uint8)
CHROMA = np.zeros((4, 5), np.uint8)


def test_every_field_documents_its_range_for_ros_descriptors_and_cli_flags():
    for field in dataclasses.fields(KeyingParams):
        assert set(field.metadata) >= {'min', 'max', 'description'}, field.name
        assert field.metadata['description'].strip(), field.name


def test_defaults_are_the_original_machines_luma_key():
    params = KeyingParams()
    assert (params.luma_min, params.luma_max, params.connectivity) == (150, 255, 4)
    assert not params.uses_chroma


@pytest.mark.parametrize('changes, field', [
    ({'luma_min': 256}, 'luma_min'),
    ({'luma_max': -1}, 'luma_max'),
    ({'luma_min': 200, 'luma_max': 100}, 'luma_min'),
    ({'u_min': 300}, 'u_min'),
    ({'v_min': 90, 'v_max': 80}, 'v_min'),
    ({'connectivity': 5}, 'connectivity'),
    ({'connectivity': 6}, 'connectivity'),
    ({'min_area': 0}, 'min_area'),
    ({'min_area': 10, 'max_area': 5}, 'max_area'),
    ({'max_centroids': 0}, 'max_centroids'),
    ({'luma_min': 1.5}, 'luma_min'),
    ({'luma_min': '150'}, 'luma_min'),
    ({'min_area': True}, 'min_area'),
    ({'invert': 1}, 'invert'),
    ({'roi': (0, 0, 10)}, 'roi'),
    ({'roi': (0, 0, 0, 5)}, 'roi'),
    ({'roi': (-1, 0, 5, 5)}, 'roi.x'),
    ({'roi': 'whole'}, 'roi'),
])
def test_invalid_values_are_rejected_naming_the_field(changes, field):
    with pytest.raises(ValueError, match=rf'^{field}\b'):
        KeyingParams(**changes)
    with pytest.raises(ValueError, match=rf'^{field}\b'):
        KeyingParams().replace(**changes)


def test_from_dict_rejects_unknown_keys_instead_of_ignoring_them():
    with pytest.raises(ValueError, match='luma_mni'):
        KeyingParams.from_dict({'luma_mni': 10})


def test_from_dict_and_to_dict_round_trip_normalising_ros_style_values():
    params = KeyingParams.from_dict({'luma_min': np.int64(90), 'roi': [1, 2, 3, 4],
                                     'u_max': 150, 'invert': np.bool_(True)})
    assert params.roi == (1, 2, 3, 4) and type(params.luma_min) is int
    assert params.invert is True and params.uses_chroma
    assert KeyingParams.from_dict(params.to_dict()) == params
    assert KeyingParams(roi=[]).roi is None  # ROS integer arrays cannot be None


def test_params_are_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        KeyingParams().luma_min = 3


@pytest.mark.parametrize('luma, problem', [
    (LUMA.astype(np.float32), r'luma: expected dtype uint8, got float32'),
    (LUMA.astype(np.int16), r'luma: expected dtype uint8'),
    (LUMA.astype(bool), r'luma: expected dtype uint8'),
    (LUMA.ravel(), r'luma: expected a 2-D array'),
    (LUMA[None], r'luma: expected a 2-D array'),
    (np.zeros((0, 10), np.uint8), r'luma: array is empty'),
    (np.zeros((8, 20), np.uint8)[:, ::2], r'luma: rows must be contiguous'),
    (LUMA.T, r'luma: rows must be contiguous'),
    (b'\x00' * 80, r'luma: expected dtype uint8'),
    ([[0, 1], [2, 3]], r'luma: expected dtype uint8'),
])
def test_bad_luma_is_a_value_error_naming_the_problem(luma, problem):
    with pytest.raises(ValueError, match=problem):
        find_centroids(luma, KeyingParams())
    with pytest.raises(ValueError, match=problem):
        key_mask(luma, KeyingParams())


@pytest.mark.parametrize('planes, problem', [
    ({'u': np.zeros((4, 4), np.uint8), 'v': CHROMA}, r'u: expected shape \(4, 5\)'),
    ({'u': CHROMA, 'v': np.zeros((8, 10), np.uint8)}, r'v: expected shape \(4, 5\)'),
    ({'uv': np.zeros((4, 5), np.uint8)}, r'uv: expected shape \(4, 10\)'),
    ({'u': CHROMA, 'v': CHROMA, 'uv': np.zeros((4, 10), np.uint8)}, r'uv: give either'),
    ({'v': CHROMA}, r'u: the U gate'),
    ({}, r'u: the U gate'),
    ({'uv': np.zeros((4, 10), np.uint8), 'uv_order': 'yuv'}, r'uv_order'),
    ({'uv': np.zeros((4, 10), np.uint8), 'uv_order': None}, r'uv_order'),
    ({'u': CHROMA.astype(np.uint16), 'v': CHROMA}, r'u: expected dtype uint8'),
    ({'u': np.zeros((4, 10), np.uint8)[:, ::2], 'v': CHROMA}, r'u: rows must be contiguous'),
])
def test_bad_chroma_is_a_value_error_naming_the_plane(planes, problem):
    params = KeyingParams(u_min=10)
    with pytest.raises(ValueError, match=problem):
        find_centroids(LUMA, params, **planes)


def test_odd_sized_luma_takes_chroma_rounded_up():
    luma = np.full((7, 9), 200, np.uint8)
    u = np.full((4, 5), 100, np.uint8)
    (blob,) = find_centroids(luma, KeyingParams(u_min=50), u=u).blobs
    assert blob['area'] == 63


def test_frames_beyond_the_engines_limits_are_rejected_not_overflowed():
    with pytest.raises(ValueError, match=r'^luma: frame of \(1, 1048577\) has a side over'):
        find_centroids(np.zeros((1, 2**20 + 1), np.uint8), KeyingParams())
    rows = np.broadcast_to(np.zeros((1, 2**16), np.uint8), (2**15 + 1, 2**16))  # no memory
    with pytest.raises(ValueError, match=r'^luma: frame of .* exceeds the engine'):
        find_centroids(rows, KeyingParams())


@pytest.mark.parametrize('roi', [(5, 0, 6, 8), (0, 4, 10, 5), (10, 0, 1, 1)])
def test_roi_outside_the_frame_is_rejected_at_call_time(roi):
    params = KeyingParams(roi=roi)
    with pytest.raises(ValueError, match=r'^roi: .*inside the 10x8 frame'):
        find_centroids(LUMA, params)


def test_params_must_be_keying_params():
    with pytest.raises(TypeError, match='params: expected KeyingParams'):
        find_centroids(LUMA, {'luma_min': 3})


def test_chroma_gate_on_a_mono8_frame_is_rejected():
    frame = Frame(FrameFormat(10, 8, 'mono8'))
    assert len(find_centroids_in_frame(frame, KeyingParams()).blobs) == 0
    with pytest.raises(ValueError, match='mono8 has no chroma'):
        find_centroids_in_frame(frame, KeyingParams(v_max=100))


dtypes = st.sampled_from([np.uint8, np.int8, np.uint16, np.float32, np.float64, np.bool_])


@settings(max_examples=80, deadline=None)
@given(dtype=dtypes, shape=st.lists(st.integers(0, 6), min_size=0, max_size=3),
       step=st.integers(1, 3), flip=st.booleans())
def test_arbitrary_arrays_give_blobs_or_a_value_error_never_a_crash(dtype, shape, step, flip):
    array = np.full(shape, 200).astype(dtype)
    if array.ndim:
        array = array[..., ::step]
        if flip:
            array = array[::-1]
    try:
        result = find_centroids(array, KeyingParams())
    except ValueError as error:
        assert str(error).startswith('luma: ')
    else:
        assert array.dtype == np.uint8 and array.ndim == 2
        assert sum(result.blobs['area']) == array.size
