"""Build picam_ros: an ament_python package with one pybind11 extension.

The extension is built with the pybind11 the machine has. In a venv (or with the distro's
``python3-pybind11``) that is pybind11's own ``setup_helpers``. On a ROS machine the rosdep key
``pybind11-dev`` installs only the C++ headers (``/usr/include/pybind11``), so without the Python
module the extension is declared as a plain setuptools ``Extension`` with the flags
``Pybind11Extension`` would add. Every ``src_cpp/*.cpp`` is compiled into
``picam_ros._centroids``.

On Linux a second library, ``picam_ros._tcp_nodelay`` (``src_cpp/preload/``), is built the same
way but never imported: the stream encoder runs with it preloaded so that its RTSP connection
sends without Nagle's delay (see :mod:`picam_ros.stream.tcp_nodelay`).

``pip install .`` gets its build tools from ``pyproject.toml``; colcon and ``scripts/setup.sh``
run this file with the environment's own. Paths are taken relative to this file, not the
working directory: ``colcon build --symlink-install`` runs it from the build directory, where
only a link to this file and the package are.
"""

from glob import glob
import os
from pathlib import Path
import sys

from setuptools import Extension, find_packages, setup

PACKAGE = 'picam_ros'
HERE = Path(__file__).resolve().parent
SOURCES = sorted(str(path) for path in (HERE / 'src_cpp').glob('*.cpp'))
if not SOURCES:
    raise SystemExit(f'picam_ros: no C++ sources in {HERE / "src_cpp"}: incomplete checkout')
INCLUDE_DIRS = [str(HERE / 'src_cpp')]

# -fno-wrapv undoes the -fwrapv that Python's own CFLAGS pass to every extension: with signed
# overflow defined to wrap, GCC cannot prove index arithmetic such as 2 * col affine and leaves
# the kernels' loops scalar (box_downscale ran 6x slower, 16 instructions a pixel).
extra_compile_args = ['-O3', '-fno-math-errno', '-fno-wrapv']
if os.environ.get('PICAM_ROS_NATIVE') == '1':
    # Opt-in: tune for the build machine (a Pi building for itself). Off by default so
    # the same build runs on any CPU of the architecture.
    extra_compile_args.append('-march=native')

try:
    from pybind11.setup_helpers import build_ext, ParallelCompile, Pybind11Extension
except ImportError:  # headers only (Debian/Ubuntu pybind11-dev, as rosdep installs it)
    extension = Extension(
        f'{PACKAGE}._centroids', SOURCES, include_dirs=INCLUDE_DIRS, language='c++',
        extra_compile_args=['-std=c++17', '-fvisibility=hidden', *extra_compile_args])
    cmdclass = {}
else:
    ParallelCompile('NPY_NUM_BUILD_JOBS').install()
    extension = Pybind11Extension(
        f'{PACKAGE}._centroids', SOURCES, include_dirs=INCLUDE_DIRS, cxx_std=17,
        extra_compile_args=extra_compile_args)
    cmdclass = {'build_ext': build_ext}
extensions = [extension]
if sys.platform.startswith('linux'):
    # A plain shared library (no Python module in it) for LD_PRELOAD; see its source.
    extensions.append(Extension(
        f'{PACKAGE}._tcp_nodelay', [str(HERE / 'src_cpp' / 'preload' / 'tcp_nodelay.cpp')],
        language='c++', libraries=['dl'],
        extra_compile_args=['-std=c++17', '-O2', '-fvisibility=hidden']))

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*', 'bench']),
    package_data={f'{PACKAGE}.operator_page': [
        'web/*.html', 'web/*.js', 'web/*.css', 'web/*.svg']},
    ext_modules=extensions,
    cmdclass=cmdclass,
    data_files=[
        ('share/ament_index/resource_index/packages', [f'resource/{PACKAGE}']),
        (f'share/{PACKAGE}', ['package.xml']),
        (f'share/{PACKAGE}/launch', sorted(glob('launch/*.launch.py'))),
        (f'share/{PACKAGE}/config',
         sorted(glob('config/*.yaml') + glob('config/*.yml') + glob('config/*.xml'))),
    ],
    python_requires='>=3.10',
    # Lower bounds: the oldest versions a supported distro ships (Ubuntu 22.04 for Humble), each
    # tested in CI (test/distro/*.txt). Higher ones would make old setuptools' console-script
    # wrappers refuse to start on a distro whose package is older.
    install_requires=['setuptools', 'numpy>=1.21', 'PyYAML>=5.4', 'Pillow>=9.0', 'aiohttp>=3.8'],
    extras_require={
        'test': [
            # Jazzy's platform (Ubuntu 24.04) ships pytest 7.4, and launch_testing's pytest
            # plugin (loaded wherever launch_testing is installed) does not load in pytest >= 9.
            'pytest>=7.4,<8',
            'hypothesis',
            'aiohttp>=3.8',
            'playwright',
            'opencv-python-headless>=4.6',  # 4.5.5's default labeller can crash (opencv#21366)
            'ruff>=0.17.6,<0.18',  # lint rules change between minor versions
            'colcon-core',
            'colcon-ros',
            'colcon-python-setup-py',
            'colcon-recursive-crawl',
            'colcon-package-information',
            'catkin_pkg',
            'colcon-package-selection',
            'flake8',
            'flake8-builtins',
            'flake8-comprehensions',
            'flake8-docstrings',
            'flake8-import-order',
            'flake8-quotes',
            'pydocstyle',
        ],
    },
    zip_safe=False,
    maintainer='picam_ros maintainers',
    maintainer_email='picam-ros@example.com',
    description='Raspberry Pi camera as a ROS 2 vision source: YUV frames, stream, centroids.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'camera_node = picam_ros.entry_points:camera_node',
            'centroid_node = picam_ros.entry_points:centroid_node',
            'machine_node = picam_ros.entry_points:machine_node',
            'operator_node = picam_ros.entry_points:operator_node',
            'picam-ros = picam_ros.entry_points:runner',
        ],
    },
)
