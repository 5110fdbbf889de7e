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

"""Helpers for camera-source tests: the fake camera process and frame checks."""

import os
from pathlib import Path
import stat
import sys

import numpy as np

FAKE_CAMERA = Path(__file__).with_name('fake_camera.py')


def fake_camera_argv(width, height, *options):
    """Command line of the fake camera writing WxH I420 frames."""
    return [sys.executable, str(FAKE_CAMERA), '--width', str(width), '--height', str(height),
            *map(str, options)]


def install_fake_rpicam(tmp_path, monkeypatch):
    """Put a fake ``rpicam-vid`` first on PATH; returns the file its argv is logged to."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    wrapper = bin_dir / 'rpicam-vid'
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_CAMERA}" --as-rpicam "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    monkeypatch.setenv('PATH', f'{bin_dir}{os.pathsep}{os.environ.get("PATH", "")}')
    argv_log = tmp_path / 'argv.txt'
    monkeypatch.setenv('FAKE_CAMERA_ARGV_LOG', str(argv_log))
    return argv_log


def expected_planes(width, height, k):
    """Return the fake camera's frame ``k`` as packed (Y, U, V) arrays."""
    r, c = np.ogrid[:height, :width]
    rc, cc = np.ogrid[:height // 2, :width // 2]
    y = (r + 2 * c + k) % 251
    u = (rc + cc + 2 * k) % 251
    v = (2 * rc + cc + k) % 251
    return y.astype(np.uint8), u.astype(np.uint8), v.astype(np.uint8)


def assert_fake_frame(frame):
    """Every byte of ``frame`` is the fake camera's frame number k (k read from Y[0, 0])."""
    k = int(frame.y[0, 0])
    y, u, v = expected_planes(frame.width, frame.height, k)
    assert np.array_equal(frame.y, y), f'luma of frame {frame.sequence} is not fake frame {k}'
    assert np.array_equal(frame.u, u) and np.array_equal(frame.v, v)
    return k
