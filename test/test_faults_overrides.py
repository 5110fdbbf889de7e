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

"""Warnings for parameter names nothing declares, and rcl errors in the user's words."""

from picam_ros.camera.settings import camera_parameter_rows
from picam_ros.core.overrides import rcl_error_text, undeclared_warnings

CAMERA = [row.name for row in camera_parameter_rows()]


def test_a_misspelt_name_is_warned_about_with_the_declared_name_it_most_likely_meant():
    warnings = undeclared_warnings(['widht', 'height'], CAMERA, 'camera')
    assert warnings == [("parameter 'widht' is not a parameter of the camera node and is "
                         "ignored: did you mean 'width'?")]


def test_a_name_like_nothing_declared_is_warned_about_without_a_guess():
    assert undeclared_warnings(['colour_mode'], CAMERA, 'camera') == [
        "parameter 'colour_mode' is not a parameter of the camera node and is ignored"]


def test_names_every_rclpy_node_takes_are_not_warned_about():
    given = ['use_sim_time', 'qos_overrides./camera/image_raw.publisher.depth']
    assert undeclared_warnings(given, CAMERA, 'camera') == []


def test_rcl_errors_lose_their_c_source_locations():
    text = ("failed to initialize rcl: Couldn't parse params file: '--params-file x.yaml'. "
            'Error: Error parsing a event near line 3, at /project/src/parse.c:782, at '
            '/project/src/rcl/arguments.c:415')
    assert rcl_error_text(RuntimeError(text)) == (
        "failed to initialize rcl: Couldn't parse params file: '--params-file x.yaml'. "
        'Error: Error parsing a event near line 3')
