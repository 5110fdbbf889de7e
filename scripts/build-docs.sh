#!/usr/bin/env bash
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
#
# Build docs/ with rosdoc2 (the tool that builds docs.ros.org), as CI does: a warning or a link
# that leads nowhere fails the build. rosdoc2 comes from PyPI into a venv of its own (not the
# package's .venv: its Sphinx and MyST must not meet the test dependencies).
#
# rosdoc2 exits 0 on Sphinx warnings and has no option for -W, so the build log is read instead:
# any WARNING, ERROR or CRITICAL line fails. MyST reports a relative link to a page or a heading
# that does not exist as "myst.xref_missing"; a link to a file outside docs/ is reported too
# (use a full URL for those).
#
#   scripts/build-docs.sh [--out DIR]    # the HTML goes to DIR/picam_ros/index.html
# Environment: PYTHON (default python3), DOCS_VENV (default $TMPDIR/picam-ros-docs-venv; kept
# between runs, so a second build skips the install).
set -euo pipefail
cd "$(dirname "$0")/.."

# rosdoc2's version on PyPI when this was written; Sphinx and MyST come as it requires them.
ROSDOC2_VERSION=0.2.1
out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out=${2:?--out needs a directory}; shift 2 ;;
        -h|--help) sed -n '15,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "build-docs.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done

venv=${DOCS_VENV:-${TMPDIR:-/tmp}/picam-ros-docs-venv}
if ! "$venv/bin/rosdoc2" --help >/dev/null 2>&1; then
    "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "rosdoc2==$ROSDOC2_VERSION"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
kept=${out:+yes}
out=${out:-$work/html}
log=$work/rosdoc2.log
# rosdoc2 runs sphinx-apidoc and sphinx-build by name: its venv's bin comes first on PATH.
status=0
PATH="$venv/bin:$PATH" rosdoc2 build --package-path . --output-directory "$out" \
    --doc-build-directory "$work/build" --cross-reference-directory "$work/xref" \
    >"$log" 2>&1 || status=$?
problems=$(grep -E '(WARNING|ERROR|CRITICAL)' "$log" || true)
if [ "$status" != 0 ] || [ -n "$problems" ]; then
    [ -n "$problems" ] && printf '%s\n' "$problems" | sed "s|$work/build/[^ ]*/wrapped_sphinx_directory/|docs/|"
    [ "$status" != 0 ] && tail -n 20 "$log"
    echo "build-docs.sh: FAILED (rosdoc2 exit $status, $(printf '%s' "$problems" | grep -c . || true) warnings or errors)" >&2
    exit 1
fi
pages=$(ls "$out/picam_ros"/*.html | wc -l)
echo "build-docs.sh: docs built with rosdoc2 $ROSDOC2_VERSION, no warnings: $pages pages$( [ -n "$kept" ] && echo " in $out/picam_ros" || echo " (not kept: pass --out DIR)")"
