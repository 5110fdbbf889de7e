#!/usr/bin/env bash
# Set up picam_ros on a fresh Debian/Ubuntu machine, without ROS:
#   system packages (ffmpeg, a C++ compiler, Python headers and venv), then a venv in .venv
#   with the package installed in editable mode (the C++ extension is built here).
# Usage: scripts/setup.sh [--test]     --test also installs the test tools (pytest, OpenCV, colcon ...)
# Environment: VENV=path (default .venv), NUMPY_SPEC (e.g. 'numpy<2' to test on numpy 1.2x).
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
[ "${1:-}" = "--test" ] && extras="[test]"

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
"$venv/bin/python" -m pip install -q --upgrade pip setuptools wheel
# The extension builds against whatever pybind11 and numpy the environment has (as colcon does on
# a ROS machine with the distro's), so they are installed first and build isolation is off.
# NUMPY_SPEC is a constraint for every install, so a test extra (e.g. OpenCV) cannot upgrade it.
constraints="$venv/numpy-constraint.txt"
echo "${NUMPY_SPEC:-numpy}" > "$constraints"
"$venv/bin/python" -m pip install -q -c "$constraints" pybind11 numpy
"$venv/bin/python" -m pip install -q -c "$constraints" --no-build-isolation -e ".${extras}"
# >>> stream tests (issue 10): real MediaMTX, headless Chromium + Playwright (pip; uses /usr/bin/chromium)
if [ -n "$extras" ]; then
    browser=(); command -v chromium >/dev/null || browser+=(chromium); command -v npm >/dev/null || browser+=(npm)
    [ ${#browser[@]} -eq 0 ] || { $sudo apt-get update -qq; DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${browser[@]}"; }
    "$venv/bin/python" -m pip install -q -c "$constraints" playwright
    scripts/get-mediamtx.sh >/dev/null || echo "setup: no MediaMTX; its tests skip (and fail in CI)" >&2
fi
# <<< stream tests
echo "picam_ros is set up in $venv"
