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

"""What the operator node translates without ROS: clouds, diagnostics, slider parameters."""

import numpy as np
import pytest

from picam_ros.centroids.engine import find_centroids_in_frame, KeyingParams
from picam_ros.core.payloads import cloud_payload
from picam_ros.machine.calibration import CameraGeometry
from picam_ros.operator_page.bridge import (
    alignment_values,
    cloud_blobs,
    cloud_sequence,
    composite_shift,
    Field,
    fit_pixel_mapping,
    keying_parameter_specs,
    MACHINE_VIEWS,
    status_from_diagnostics,
)
from picam_ros.sources.synthetic import SyntheticConfig, SyntheticSource


def engine_blobs():
    source = SyntheticSource(SyntheticConfig(width=320, height=240, paced=False))
    return find_centroids_in_frame(source.render(3), KeyingParams()).blobs


def test_the_centroid_nodes_cloud_is_read_back_exactly():
    blobs = engine_blobs()
    payload = cloud_payload(blobs)
    fields = [Field(f.name, f.offset, f.datatype) for f in payload.fields]
    read = cloud_blobs(fields, payload.point_step, payload.width, 1, payload.data)
    assert read.dtype.names == ('x', 'y', 'area', 'orientation', 'major_axis', 'minor_axis')
    assert read.shape[0] == blobs.shape[0] > 5
    assert np.array_equal(read['x'], blobs['x'].astype(np.float32))
    assert np.array_equal(read['area'], blobs['area'].astype(np.float32))
    assert np.array_equal(read['orientation'], blobs['orientation'].astype(np.float32))


def test_orientation_fields_are_picked_up_when_a_cloud_has_them():
    dtype = np.dtype([('x', '<f4'), ('pad', '<f4'), ('y', '<f4'), ('area', '<f4'),
                      ('orientation', '<f4')])
    points = np.array([(1.5, 0, 2.5, 9, 0.25)], dtype)
    fields = [Field(name, dtype.fields[name][1], 7) for name in dtype.names]
    read = cloud_blobs(fields, dtype.itemsize, 1, 1, points.tobytes())
    assert read.dtype.names == ('x', 'y', 'area', 'orientation')
    assert read[0].tolist() == (1.5, 2.5, 9.0, 0.25)


@pytest.mark.parametrize('fields, step, data, message', [
    ([Field('x', 0, 7), Field('y', 4, 7)], 8, b'\0' * 8, "lacks fields ['area']"),
    ([Field('x', 0, 7), Field('y', 4, 7), Field('area', 8, 2)], 12, b'\0' * 12,
     'datatype 2 is not float32'),
    ([Field('x', 0, 7), Field('y', 4, 7), Field('area', 8, 7)], 12, b'\0' * 11,
     'carries 11 bytes'),
])
def test_an_unreadable_cloud_is_named(fields, step, data, message):
    with pytest.raises(ValueError, match=message.replace('[', r'\[').replace(']', r'\]')):
        cloud_blobs(fields, step, 1, 1, data)


def test_diagnostics_become_the_status_bar():
    status = status_from_diagnostics([
        ('/camera: camera', '25.0 fps', {'fps': '24.96', 'drops': '3'}),
        ('/camera: stream', 'streaming', {'state': 'running', 'frames dropped': '1'}),
        ('/centroids: centroids', '5 Hz', {
            'processing time mean (ms)': '0.412', 'processed rate (Hz)': '5.00',
            'pads: blobs': '31', 'leads: blobs': '4'}),
        ('/other: thing', 'ok', {'fps': '1'}),
    ])
    assert status == {'fps': 24.96, 'drops': 3.0, 'stream_state': 'running',
                      'stream_dropped': 1.0, 'processing_ms': 0.412, 'centroid_rate_hz': 5.0,
                      'blobs': 35.0}
    later = status_from_diagnostics([('/camera: camera', '', {'fps': '12', 'drops': '4'})],
                                    status)
    assert later['fps'] == 12.0 and later['processing_ms'] == 0.412


def test_sliders_get_the_ranges_the_centroid_node_declares():
    specs = {spec.name: spec for spec in keying_parameter_specs(['pads', 'leads'])}
    assert set(specs) >= {'pads.luma_min', 'leads.luma_max', 'leads.v_min', 'pads.min_area'}
    assert 'pads.roi' not in specs and 'pads.invert' not in specs
    assert (specs['pads.luma_min'].minimum, specs['pads.luma_min'].maximum) == (0, 255)
    assert specs['pads.luma_min'].value == 150
    assert specs['pads.u_min'].check(-1) == ''            # -1: no bound, as the node takes it
    assert 'below the minimum -1' in specs['pads.u_min'].check(-2)
    assert 'above the maximum 255' in specs['leads.luma_max'].check(256)


def test_the_machine_nodes_statuses_give_fps_blobs_mode_and_stream_state():
    status = status_from_diagnostics([
        ('machine: board', '15.0 fps', {'fps': '15.00', 'drops': '0', 'blobs': '42'}),
        ('machine: component', '15.0 fps', {'fps': '14.00', 'drops': '2', 'blobs': '8'}),
        ('machine: composite', 'onlyup', {'mode': 'onlyup', 'stream': 'running'}),
    ])
    assert status == {'fps': 15.0, 'drops': 0.0, 'blobs': 42.0, 'mode': 'ONLYUP',
                      'stream_state': 'running'}


def test_leads_are_drawn_where_the_composite_shows_the_up_image():
    offset = (80, -60)
    assert composite_shift('leads', 'NORMAL', offset) == (80.0, -60.0)
    assert composite_shift('leads', 'FROZEN', offset) == (80.0, -60.0)
    assert composite_shift('leads', 'ONLYUP', offset) == (0.0, 0.0)
    assert composite_shift('pads', 'NORMAL', offset) == (0.0, 0.0)
    assert MACHINE_VIEWS['ONLYUP'] == ('leads',) and MACHINE_VIEWS['ONLYDOWN'] == ('pads',)


def test_the_machine_clouds_frame_sequence_is_read_and_a_cloud_without_it_has_none():
    dtype = np.dtype([('x', '<f4'), ('y', '<f4'), ('area', '<f4'), ('frame_sequence', '<u4')])
    points = np.array([(1.5, 2.5, 9, 4_000_000_123), (3.5, 4.5, 9, 4_000_000_123)], dtype)
    fields = [Field(name, dtype.fields[name][1], 6 if name == 'frame_sequence' else 7)
              for name in dtype.names]
    assert cloud_sequence(fields, dtype.itemsize, 2, points.tobytes()) == 4_000_000_123
    assert cloud_sequence(fields, dtype.itemsize, 0, b'') is None          # no blob, no number
    assert cloud_sequence(fields[:3], dtype.itemsize, 2, points.tobytes()) is None


def test_alignment_reaches_the_page_in_its_keys_from_the_service_and_the_diagnostics():
    today = {'dx_mm': 0.1, 'dy_mm': -0.2, 'theta_deg': 1.5, 'rms_mm': 0.012, 'matched': 6,
             'frames': {}}
    assert alignment_values(today) == {'dx_mm': 0.1, 'dy_mm': -0.2, 'theta_deg': 1.5,
                                       'rms_um': pytest.approx(12.0), 'matched': 6}
    verdict = {'verdict': 'fail', 'dx_mm': 0.1, 'dy_mm': 0.0, 'theta_deg': 0.0, 'rms_um': 30.0,
               'max_residual_um': 55.0, 'matched': 7, 'expected': 8}
    assert alignment_values(verdict) == {**verdict, 'verdict': 'FAIL'}
    status = status_from_diagnostics([('machine: alignment', 'aligned', {
        'alignments': '3', 'failures': '0', 'last error': '', 'dx (mm)': '0.0500',
        'dy (mm)': '-0.0100', 'theta (deg)': '0.5000', 'residual rms (mm)': '0.00400',
        'matched': '6'})])
    assert status['alignment'] == {'values': {'dx_mm': 0.05, 'dy_mm': -0.01, 'theta_deg': 0.5,
                                              'rms_um': pytest.approx(4.0), 'matched': 6},
                                   'error': ''}


def test_the_verdicts_residuals_land_on_the_board_pixels_of_their_pads():
    # The machine's clouds carry x_mm from its calibration; the operator fits it back and places
    # each residual's pad (mm from the datum) on the pixel the calibration gives it.
    geometry = CameraGeometry(640, 480, mm_per_pixel=0.0213, nozzle_x=301.5, nozzle_y=222.0)
    rng = np.random.default_rng(7)
    pixels = rng.uniform(0, 480, (40, 2))
    mm = geometry.to_mm(pixels)
    cloud = np.zeros(40, [('x', '<f4'), ('y', '<f4'), ('x_mm', '<f4'), ('y_mm', '<f4')])
    cloud['x'], cloud['y'] = pixels.T
    cloud['x_mm'], cloud['y_mm'] = mm.T
    mapping = fit_pixel_mapping(cloud)
    pads_mm = mm[:5].round(4)            # as the verdict rounds them
    residuals = [[*pad, 3.25, -1.5] for pad in pads_mm.tolist()]
    page = alignment_values({'verdict': 'PASS', 'max_residual_limit_um': 50.0,
                             'residuals_um': residuals}, mapping)
    assert page['max_residual_limit_um'] == 50.0
    lines = np.array(page['residuals'])
    np.testing.assert_allclose(lines[:, :2], geometry.to_pixels(pads_mm), atol=2e-3)
    np.testing.assert_array_equal(lines[:, 2:], [[3.25, -1.5]] * 5)
    # The diagnostics carry the list as text; without a mapping the page is told why.
    text = status_from_diagnostics([('machine: alignment', 'PASS', {
        'verdict': 'PASS', 'residuals_um': '[[0.1,0.2,1.0,2.0]]'})], mapping=mapping)
    assert len(text['alignment']['values']['residuals']) == 1
    missing = alignment_values({'verdict': 'PASS', 'residuals_um': residuals})
    assert 'residuals' not in missing and missing['residuals_missing']
    assert fit_pixel_mapping(cloud[['x', 'y']]) is None       # a cloud without mm fields
