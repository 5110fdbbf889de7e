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
# Environment: VENV=path (default .venv); PYTHON=interpreter the venv is made from (default
#   python3); CONSTRAINTS=a pip constraints file every install obeys (test/distro/*.txt pin the
#   versions a distro ships); NUMPY_SPEC (e.g. 'numpy<2') is one more constraint.
# Quiet: each step's output goes to a log that is printed in full only when the step fails.
set -euo pipefail
cd "$(dirname "$0")/.."

# Run a step with its output kept aside; on failure print all of it and stop with its status.
quietly() {
    local what=$1 log status=0
    shift
    log=$(mktemp)
    "$@" >"$log" 2>&1 || status=$?
    if [ "$status" != 0 ]; then
        echo "setup.sh: $what failed (exit $status); its output:" >&2
        cat "$log" >&2
        rm -f "$log"
        exit "$status"
    fi
    rm -f "$log"
}

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
python=${PYTHON:-python3}
command -v "$python" >/dev/null || { echo "setup.sh: PYTHON=$python is not an interpreter on PATH" >&2; exit 2; }
"$python" -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' || need+=(python3-dev)
"$python" -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
# The tests also build the extension as a ROS machine does: with the distro's header-only pybind11.
[ -n "$extras" ] && [ ! -e /usr/include/pybind11/pybind11.h ] && need+=(pybind11-dev)
apt_install() {
    echo "setup.sh: installing $* (apt)"
    quietly "apt-get update" $sudo apt-get update -qq
    quietly "apt-get install $*" env DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@"
}
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"

venv="${VENV:-.venv}"
[ -x "$venv/bin/python" ] || quietly "making the venv $venv" "$python" -m venv "$venv"
py="$venv/bin/python"
# The ROS wheels' .pth re-executes every Python start to set LD_LIBRARY_PATH; this script's own
# Python calls do not need that (the venv's ROS libraries are found by the re-exec at run time).
export _ROS_WHEELS_BOOTSTRAP_COMPLETE=1
echo "setup.sh: installing picam_ros into $venv (builds the C++ extension)"
quietly "upgrading pip" "$py" -m pip install -q --upgrade pip setuptools wheel
# The extension builds against whatever pybind11 and numpy the environment has (as colcon does on
# a ROS machine with the distro's), so they are installed first and build isolation is off.
# The constraints hold for every install, so a test extra (e.g. OpenCV) cannot upgrade numpy.
constraints="$venv/constraints.txt"
{ [ -z "${CONSTRAINTS:-}" ] || cat "$CONSTRAINTS"; echo "${NUMPY_SPEC:-numpy}"; } > "$constraints"
quietly "installing pybind11 and numpy" "$py" -m pip install -q -c "$constraints" pybind11 numpy
quietly "building and installing picam_ros" \
    "$py" -m pip install -q -c "$constraints" --no-build-isolation -e ".${extras}"

# >>> stream tests (issue 10): real MediaMTX, headless Chromium + Playwright (pip; uses /usr/bin/chromium)
if [ -n "$extras" ]; then
    browser=(); command -v chromium >/dev/null || browser+=(chromium); command -v npm >/dev/null || browser+=(npm)
    [ ${#browser[@]} -eq 0 ] || apt_install "${browser[@]}"
    quietly "installing playwright" "$py" -m pip install -q -c "$constraints" playwright
    mediamtx_log=$(mktemp)
    if mediamtx=$(scripts/get-mediamtx.sh 2>"$mediamtx_log"); then
        echo "setup.sh: MediaMTX is $mediamtx"
    else
        cat "$mediamtx_log" >&2
        echo "setup.sh: no MediaMTX; its tests skip (and fail in CI)" >&2
    fi
    rm -f "$mediamtx_log"
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
    echo "setup.sh: installing ROS 2 Jazzy's rclpy and messages (PyPI wheels)"
    quietly "installing the ROS 2 wheels" "$py" -m pip install -q -c "$constraints" \
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
