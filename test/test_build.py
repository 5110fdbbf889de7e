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

"""The extension builds the way a ROS machine builds it, not only the way a venv does.

rosdep's ``pybind11-dev`` installs the C++ headers without pybind11's Python module, so
``setup.py`` must fall back to a plain setuptools extension; this builds it that way for real.
"""

from pathlib import Path
import subprocess
import sys
import textwrap

import pytest

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_HEADERS = Path('/usr/include/pybind11/pybind11.h')


@pytest.mark.skipif(not SYSTEM_HEADERS.exists(),
                    reason='needs the distro pybind11 headers (apt-get install pybind11-dev)')
def test_extension_builds_and_runs_with_header_only_pybind11(tmp_path):
    hidden = tmp_path / 'hide' / 'pybind11'
    hidden.mkdir(parents=True)
    (hidden / '__init__.py').write_text(
        "raise ImportError('pybind11 hidden: only the system headers are available')\n")
    env = {'PATH': '/usr/bin:/bin', 'PYTHONPATH': str(tmp_path / 'hide'),
           'NPY_NUM_BUILD_JOBS': '1'}
    build = subprocess.run(
        [sys.executable, 'setup.py', '-q', 'build_ext', '--build-lib', str(tmp_path / 'lib'),
         '--build-temp', str(tmp_path / 'tmp')],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert build.returncode == 0, build.stderr[-3000:]
    built = list((tmp_path / 'lib' / 'picam_ros').glob('_centroids*.so'))
    assert len(built) == 1, built
    # Load that very file and run the engine through it on a frame with two blobs.
    probe = textwrap.dedent(f"""
        import importlib.machinery, importlib.util
        import numpy as np
        loader = importlib.machinery.ExtensionFileLoader('picam_ros._centroids', {str(built[0])!r})
        spec = importlib.util.spec_from_loader('picam_ros._centroids', loader)
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
        import sys
        sys.modules['picam_ros._centroids'] = module
        from picam_ros.centroids import engine as centroids
        assert centroids._centroids is module, 'the engine must run on the header-only build'
        luma = np.zeros((8, 8), np.uint8)
        luma[1:3, 1:3] = 200
        luma[5, 4:8] = 200
        blobs, dropped = centroids.find_centroids(luma, centroids.KeyingParams())
        print(sorted((float(b['x']), float(b['y']), int(b['area'])) for b in blobs), dropped)
    """)
    run = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True,
                         timeout=60, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == '[(1.5, 1.5, 4), (5.5, 5.0, 4)] 0'
