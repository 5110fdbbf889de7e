#!/usr/bin/env bash
# Set up picam_ros on a fresh Debian/Ubuntu machine:
#   system packages (ffmpeg, a C++ compiler, Python headers and venv), then a venv in .venv
#   with the package installed in editable mode (the C++ extension is built here).
# Usage: scripts/setup.sh [--test] [--ros] [--no-ros]
#   --test    also installs the test tools (pytest, OpenCV, colcon, ruff, flake8 ...); on CPython
#             3.11 x86-64 it implies --ros, so the rclpy tests run for real
#   --ros     installs ROS 2 Jazzy's rclpy (FastDDS) and the message packages from their PyPI
#             wheels into the venv (CPython 3.11 x86-64 only: the only wheels there are)
#   --no-ros  never install the ROS wheels
# Environment: VENV=path (default .venv), NUMPY_SPEC (e.g. 'numpy<2' to test on numpy 1.2x).
set -euo pipefail
cd "$(dirname "$0")/.."

test=0 ros=auto
for arg in "$@"; do
    case "$arg" in
        --test) test=1 ;;
        --ros) ros=1 ;;
        --no-ros) ros=0 ;;
        *) echo "setup.sh: unknown option '$arg' (use --test, --ros, --no-ros)" >&2; exit 2 ;;
    esac
done
extras=""
[ "$test" = 1 ] && extras="[test]"

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
need=()
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v g++ >/dev/null || need+=(g++)
python3 -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' || need+=(python3-dev)
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
# The tests also build the extension as a ROS machine does: with the distro's header-only pybind11.
[ -n "$extras" ] && [ ! -e /usr/include/pybind11/pybind11.h ] && need+=(pybind11-dev)
if [ ${#need[@]} -gt 0 ]; then
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi

venv="${VENV:-.venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
py="$venv/bin/python"
# The ROS wheels' .pth re-executes every Python start to set LD_LIBRARY_PATH; this script's own
# Python calls do not need that (the venv's ROS libraries are found by the re-exec at run time).
export _ROS_WHEELS_BOOTSTRAP_COMPLETE=1
"$py" -m pip install -q --upgrade pip setuptools wheel
# The extension builds against whatever pybind11 and numpy the environment has (as colcon does on
# a ROS machine with the distro's), so they are installed first and build isolation is off.
# NUMPY_SPEC is a constraint for every install, so a test extra (e.g. OpenCV) cannot upgrade it.
constraints="$venv/numpy-constraint.txt"
echo "${NUMPY_SPEC:-numpy}" > "$constraints"
"$py" -m pip install -q -c "$constraints" pybind11 numpy
"$py" -m pip install -q -c "$constraints" --no-build-isolation -e ".${extras}"

# >>> stream tests (issue 10): real MediaMTX, headless Chromium + Playwright (pip; uses /usr/bin/chromium)
if [ -n "$extras" ]; then
    browser=(); command -v chromium >/dev/null || browser+=(chromium); command -v npm >/dev/null || browser+=(npm)
    [ ${#browser[@]} -eq 0 ] || { $sudo apt-get update -qq; DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${browser[@]}"; }
    "$py" -m pip install -q -c "$constraints" playwright
    scripts/get-mediamtx.sh >/dev/null || echo "setup: no MediaMTX; its tests skip (and fail in CI)" >&2
fi
# <<< stream tests

# ROS 2 Jazzy from PyPI: binary wheels exist for CPython 3.11 on x86-64 Linux only.
wheels_fit=$("$py" -c 'import platform, sys; print(int(sys.implementation.name == "cpython" and sys.version_info[:2] == (3, 11) and platform.machine() == "x86_64" and sys.platform == "linux"))')
if [ "$ros" = auto ]; then ros=$(( test && wheels_fit )); fi
if [ "$ros" = 1 ]; then
    if [ "$wheels_fit" != 1 ]; then
        echo "setup.sh: --ros needs CPython 3.11 on x86-64 Linux (the ROS 2 Jazzy wheels on PyPI); this venv's Python is $("$py" -c 'import platform; print(platform.python_implementation(), platform.python_version(), platform.machine())')" >&2
        exit 2
    fi
    # rclpy + FastDDS (Jazzy's default RMW) and every message package the nodes and tests use.
    # ament-index-python: the nodes find their share/ files through it; rosidl-parser and
    # rpyutils are imported by rclpy/rosidl_runtime at run time without being declared.
    "$py" -m pip install -q -c "$constraints" \
        'ros-jazzy-rclpy[fastrtps]' ros-jazzy-rmw-fastrtps-cpp ros-jazzy-rmw-implementation \
        ros-jazzy-sensor-msgs ros-jazzy-std-msgs ros-jazzy-diagnostic-msgs \
        ros-jazzy-rcl-interfaces ros-jazzy-builtin-interfaces ros-jazzy-geometry-msgs \
        ros-jazzy-std-srvs ros-jazzy-lifecycle-msgs ros-jazzy-action-msgs \
        ros-jazzy-ament-index-python ros-jazzy-rosidl-parser ros-jazzy-rpyutils
    "$py" - <<'PY'
import os
import subprocess
import sys

env = {k: v for k, v in os.environ.items() if k != '_ROS_WHEELS_BOOTSTRAP_COMPLETE'}
code = 'import rclpy; rclpy.init(); rclpy.create_node("picam_ros_setup_check").destroy_node(); rclpy.shutdown()'
subprocess.run([sys.executable, '-c', code], env=env, check=True)
print('rclpy (ROS 2 Jazzy wheels) works in', sys.prefix)
PY
fi
echo "picam_ros is set up in $venv"
