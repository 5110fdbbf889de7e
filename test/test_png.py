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

"""The snapshot PNG writer produces files that an independent decoder reads back exactly."""

import numpy as np
import pytest

from picam_ros.core.png import encode_png, write_png

cv2 = pytest.importorskip('cv2', reason='OpenCV is the PNG decoding oracle')


def test_colour_snapshot_decodes_to_the_same_bgr_pixels(tmp_path):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(37, 53, 3), dtype=np.uint8)
    path = tmp_path / 'snap.png'
    write_png(path, image)
    assert np.array_equal(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), image)


def test_grey_snapshot_decodes_to_the_same_pixels():
    image = np.arange(256, dtype=np.uint8).reshape(16, 16)
    decoded = cv2.imdecode(np.frombuffer(encode_png(image), np.uint8), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(decoded, image)


def test_strided_view_is_encoded_as_its_visible_pixels():
    base = np.arange(40 * 60, dtype=np.uint32).astype(np.uint8).reshape(40, 60)
    view = base[::2, 5:45]
    decoded = cv2.imdecode(np.frombuffer(encode_png(view), np.uint8), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(decoded, view)


@pytest.mark.parametrize('bad, message', [
    (np.zeros((4, 4), np.uint16), 'uint8'),
    (np.zeros((4, 4, 4), np.uint8), 'shape'),
    (np.zeros((0, 4), np.uint8), 'non-empty'),
])
def test_unencodable_images_are_refused_with_the_reason(bad, message):
    with pytest.raises(ValueError, match=message):
        encode_png(bad)
