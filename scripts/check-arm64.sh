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
# Build and test picam_ros on Debian bookworm arm64 (what Raspberry Pi OS is), emulated with
# qemu-user. A Debian arm64 root is made once with debootstrap and cached; everything in it comes
# from Debian's packages (python3 3.11, numpy 1.24, pybind11 2.10, g++ 12, ffmpeg, Pillow,
# OpenCV, pytest): nothing from PyPI. The package is built as the README's Pi section builds it
# (a venv that sees the system's packages, `pip install --no-build-isolation --no-index -e .`, the
# C++ compiles cached by ccache), then the core tests and the standalone runner run, as a user.
# Quiet: one line per step; a step that fails prints its whole output.
#
# Times on the 2-core development machine (2026-12-07), shared with four other sessions:
#   cold (no root, no compiler cache): 1353 s = debootstrap 300 + packages 460 + build 378 +
#   389 tests 168 + runner 15 + page 4 (an earlier cold run at load average 11-14: debootstrap
#   564 s, packages 1693 s, and the compiles passed the old 1200 s bound);
#   cached root and compiler cache: 229 s (build 60 s, 377 tests 138 s); 446 s with 2 of 9
#   compiles changed (413 tests 245 s); --mediamtx adds about 5 min of stream tests.
#   Every step is bounded (T_* below); a step over its bound fails with the output it gave.
#
# Usage: scripts/check-arm64.sh [--mediamtx] [--rebuild-root] [--shell]    (as root: chroot)
#   --mediamtx      also build the arm64 MediaMTX (scripts/get-mediamtx.sh --arch arm64, cached;
#                   needs Go and npm here) and run the MediaMTX stream tests with it in the root
#   --rebuild-root  make the arm64 root again even if the cached one is current
#   --shell         after the build, open a shell in the root instead of running the tests
# Environment: PICAM_ARM64_ROOT   the cached root (default /var/cache/picam_ros/bookworm-arm64)
#              PICAM_ARM64_MIRROR Debian mirror (default: this machine's, from /etc/apt/sources.list*)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD

SUITE=bookworm
# Debian's packages a Pi owner installs (README), plus the test tools. Changing this list (or
# ROOT_FORMAT) makes a new root.
PACKAGES=(python3 python3-dev python3-venv python3-setuptools python3-wheel g++ pybind11-dev ccache
          python3-numpy python3-pil python3-yaml python3-aiohttp ffmpeg
          python3-pytest python3-hypothesis python3-opencv ca-certificates procps)
ROOT_FORMAT=1
# The tests that need no ROS (engine, frames, conversions, stream downscale, composite, synthetic
# scene, JPEG, CLI, PNG, sensor clock, camera sources with the fake rpicam-vid, shutdown).
TESTS=(test/test_centroids.py test/test_centroids_params.py test/test_centroids_synthetic.py
       test/test_frames.py test/test_formats.py test/test_ros_conversions.py test/test_downscale.py
       test/test_composite.py
       test/test_synthetic.py test/test_compression.py test/test_cli.py test/test_png.py
       test/test_sensor_clock.py test/test_sources.py test/test_faults_shutdown.py)
# Bounds (seconds) of each step under emulation on a 2-core machine.
T_ROOT=2400 T_BUILD=2400 T_TESTS=2400 T_RUNNER=300

rebuild=0 shell=0 mediamtx=0
for arg in "$@"; do
    case "$arg" in
        --mediamtx) mediamtx=1 ;;
        --rebuild-root) rebuild=1 ;;
        --shell) shell=1 ;;
        *) echo "check-arm64: unknown option '$arg' (use --mediamtx, --rebuild-root, --shell)" >&2; exit 2 ;;
    esac
done

fail() { echo "check-arm64: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (debootstrap, chroot and mounts): sudo $0 $*"
[ "$(uname -m)" = x86_64 ] || [ "$(uname -m)" = aarch64 ] || fail "runs on x86-64 (emulated) or aarch64 hosts, not $(uname -m)"

root=${PICAM_ARM64_ROOT:-/var/cache/picam_ros/bookworm-arm64}
logs=$(mktemp -d "${TMPDIR:-/tmp}/check-arm64.XXXXXX")
started=$(date +%s)
trap 'rm -rf "$logs"' EXIT

# step NAME SECONDS CMD...: run CMD bounded, output to a log; one line when it works, the whole
# log when it does not.
step() {
    local name=$1 limit=$2 t0 rc=0; shift 2
    [ "$1" != in_root ] || { shift; set -- "${root_cmd[@]}" "$root" "$@"; }
    t0=$(date +%s)
    timeout -k 10 "$limit" "$@" > "$logs/$name.log" 2>&1 || rc=$?
    if [ "$rc" != 0 ]; then
        echo "check-arm64: $name FAILED (exit $rc$([ "$rc" = 124 ] && echo ", over its ${limit} s bound")); its output:" >&2
        cat "$logs/$name.log" >&2
        exit 1
    fi
    echo "check-arm64: $name: $(( $(date +%s) - t0 )) s"
}

# in_root USER CMD...: run CMD in the arm64 root as USER (uid:gid), in a mount namespace of its
# own: /proc, /sys and /dev are mounted there and vanish with it, whatever ends the command.
# (step runs it through timeout, so it is a command line, not a shell function.)
root_cmd=(unshare --mount --propagation private -- /bin/bash -ec '
    root=$1 user=$2; shift 2
    mount -t proc proc "$root/proc"
    mount --rbind /sys "$root/sys"
    mount --rbind /dev "$root/dev"
    home=/root; [ "$user" = 0:0 ] || home=/home/pi
    exec chroot --userspec="$user" "$root" /usr/bin/env -i HOME="$home" LANG=C.UTF-8 \
        PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin TERM=dumb "$@"' in_root)
in_root() { "${root_cmd[@]}" "$root" "$@"; }

# debian_mirror SUITE: the first URI this machine's apt sources use for SUITE.
debian_mirror() {
    local f
    {
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
            [ -r "$f" ] || continue
            awk -v s="$1" '$1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                                         if ($(i + 1) == s) { print $i; exit } }' "$f"
        done
        for f in /etc/apt/sources.list.d/*.sources; do
            [ -r "$f" ] || continue
            awk -v s="$1" 'BEGIN { RS = ""; FS = "\n" }
                { uri = ""; deb = 0; ok = 0
                  for (i = 1; i <= NF; i++) {
                      n = split($i, w, /[ \t]+/)
                      if (w[1] == "Types:") for (j = 2; j <= n; j++) if (w[j] == "deb") deb = 1
                      if (w[1] == "URIs:") uri = w[2]
                      if (w[1] == "Suites:") for (j = 2; j <= n; j++) if (w[j] == s) ok = 1
                  }
                  if (deb && ok && uri != "") { print uri; exit } }' "$f"
        done
    } | head -n 1
}

# --- the host: qemu-user with binfmt ------------------------------------------------------------
if [ "$(uname -m)" = x86_64 ]; then
    if ! command -v debootstrap >/dev/null || ! command -v update-binfmts >/dev/null ||
            [ ! -e /usr/libexec/qemu-binfmt/aarch64-binfmt-P ]; then
        step host-packages 600 bash -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq qemu-user-static binfmt-support debootstrap'
    fi
    [ -e /proc/sys/fs/binfmt_misc/status ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
        || fail "cannot mount binfmt_misc (/proc/sys/fs/binfmt_misc): arm64 programs cannot run here"
    update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
    grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null \
        || fail "qemu-aarch64 is not registered with binfmt_misc (update-binfmts --enable qemu-aarch64 failed)"
    emulated="qemu-user $(dpkg-query -W -f '${Version}' qemu-user-static 2>/dev/null || echo '?')"
else
    command -v debootstrap >/dev/null || step host-packages 600 bash -c \
        'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap'
    emulated="native"
fi

# --- the arm64 root (cached) --------------------------------------------------------------------
mirror=${PICAM_ARM64_MIRROR:-$(debian_mirror "$SUITE")}
[ -n "$mirror" ] || fail "no Debian $SUITE mirror in /etc/apt/sources.list*: set PICAM_ARM64_MIRROR=http://<mirror>/debian"
security=$(debian_mirror "$SUITE-security")
key=$(printf '%s\n' "$ROOT_FORMAT" "$SUITE" "$mirror" "$security" "${PACKAGES[@]}" | sha256sum | cut -c1-16)
if [ "$rebuild" = 1 ] || [ "$(cat "$root/.picam-arm64-root" 2>/dev/null)" != "$key" ]; then
    echo "check-arm64: making the Debian $SUITE arm64 root in $root (from $mirror; once, then cached)"
    rm -rf "$root.new"
    mkdir -p "$(dirname "$root")"
    step debootstrap "$T_ROOT" debootstrap --arch=arm64 --variant=minbase "$SUITE" "$root.new" "$mirror"
    {
        echo "deb $mirror $SUITE main"
        echo "deb $mirror $SUITE-updates main"
        [ -z "$security" ] || echo "deb $security $SUITE-security main"
    } > "$root.new/etc/apt/sources.list"
    cp /etc/resolv.conf "$root.new/etc/resolv.conf" 2>/dev/null || true
    # Locally added CA certificates (a proxy's), so that HTTPS works in the root as it does here.
    if compgen -G '/usr/local/share/ca-certificates/*' >/dev/null; then
        mkdir -p "$root.new/usr/local/share/ca-certificates"
        cp -r /usr/local/share/ca-certificates/. "$root.new/usr/local/share/ca-certificates/"
    fi
    root_final=$root root=$root.new
    step packages "$T_ROOT" in_root 0:0 bash -ec "
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${PACKAGES[*]}
        apt-get clean
        update-ca-certificates >/dev/null
        useradd --create-home --uid 1000 --user-group pi"
    root=$root_final
    echo "$key" > "$root.new/.picam-arm64-root"
    rm -rf "$root" && mv "$root.new" "$root"
else
    echo "check-arm64: arm64 root: cached ($root)"
fi
versions=$(in_root 1000:1000 python3 -c 'import platform, numpy, PIL, cv2, pytest
print(platform.machine(), "python", platform.python_version(), "numpy", numpy.__version__,
      "Pillow", PIL.__version__, "OpenCV", cv2.__version__, "pytest", pytest.__version__)')
echo "check-arm64: $emulated; in the root: $versions, $(in_root 1000:1000 g++ --version | head -n 1)"

# --- build, as a Pi owner does (README) ---------------------------------------------------------
work=$root/home/pi/picam_ros
rm -rf "$work"
mkdir -p "$work"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$src" ls-files -z --cached --others --exclude-standard \
        | (cd "$src" && xargs -0 cp --parents -t "$work" 2>/dev/null || true)
else
    tar -C "$src" --exclude=.venv --exclude=build --exclude=.git --exclude='*.so' -cf - . | tar -C "$work" -xf -
fi
[ -e "$work/setup.py" ] || fail "could not copy the source tree into the root"
chown -R 1000:1000 "$root/home/pi"
mkdir -p "$root/var/cache/picam-ccache" && chown 1000:1000 "$root/var/cache/picam-ccache"
step build "$T_BUILD" in_root 1000:1000 bash -ec '
    cd ~/picam_ros
    export CCACHE_DIR=/var/cache/picam-ccache CC="ccache gcc" CXX="ccache g++"
    python3 -m venv --system-site-packages .venv
    ccache --zero-stats >/dev/null
    .venv/bin/pip install -q --no-build-isolation --no-index -e .
    ccache --show-stats | grep -E "^ *(Hits|Misses):" | head -n 2 | tr -s " " | tr "\n" " "; echo'
echo "check-arm64:   C++ compiles (ccache): $(tail -n 1 "$logs/build.log")"

if [ "$shell" = 1 ]; then
    echo "check-arm64: shell in the root (the package is installed in ~/picam_ros/.venv; exit to leave)"
    in_root 1000:1000 bash -i
    exit 0
fi

# --- tests and the standalone runner ------------------------------------------------------------
extra=()
rm -f "$root/usr/local/bin/mediamtx"
if [ "$mediamtx" = 1 ]; then
    step mediamtx-arm64 1800 scripts/get-mediamtx.sh --arch arm64
    cp "$(tail -n 1 "$logs/mediamtx-arm64.log")" "$root/usr/local/bin/mediamtx"
    extra=(test/test_streaming_mediamtx.py)
fi
status=0
step_rc=0
timeout -k 10 "$T_TESTS" "${root_cmd[@]}" "$root" 1000:1000 bash -c 'cd ~/picam_ros && exec .venv/bin/python -m pytest \
    -q -rs -p no:cacheprovider "$@"' tests "${TESTS[@]}" "${extra[@]}" > "$logs/tests.log" 2>&1 || step_rc=$?
if [ "$step_rc" != 0 ]; then
    echo "check-arm64: tests FAILED (exit $step_rc$([ "$step_rc" = 124 ] && echo ", over their ${T_TESTS} s bound")); pytest's output:" >&2
    cat "$logs/tests.log" >&2
    status=1
else
    grep -E '^SKIPPED' "$logs/tests.log" | sed 's/^/check-arm64:   /' || true
    echo "check-arm64: tests: $(tail -n 1 "$logs/tests.log" | tr -d '=' | sed 's/^ *//')"
fi

# The runner as README shows it, then its first frame alone (frame 0 of the synthetic scene,
# whatever the speed): that snapshot must be byte-identical to this host's build's.
step runner "$T_RUNNER" in_root 1000:1000 bash -ec '
    cd ~/picam_ros
    .venv/bin/picam-ros --duration 5 --stream off --status-interval 0 --snapshot snapshot.png
    .venv/bin/python -c "import cv2, sys; img = cv2.imread(\"snapshot.png\"); sys.exit(img is None or img.shape != (1024, 1024, 3))"
    .venv/bin/picam-ros --frames 1 --stream off --status-interval 0 --snapshot first.png
    sha256sum first.png'
# The operator page without ROS (README's Pi section): it serves its page, then stops on SIGINT.
step operator-page "$T_RUNNER" in_root 1000:1000 bash -ec '
    cd ~/picam_ros
    .venv/bin/python -m picam_ros.operator_page --port 0 > page.log 2>&1 &
    page=$!
    .venv/bin/python - <<"PY" || { kill $page 2>/dev/null || true; cat page.log; exit 1; }
import re, time, urllib.request
deadline = time.monotonic() + 90
while not (found := re.search(r"http://127\.0\.0\.1:[0-9]+/", open("page.log").read())):
    if time.monotonic() > deadline:
        raise SystemExit("the operator page gave no address within 90 s")
    time.sleep(0.5)
body = urllib.request.urlopen(found.group(0), timeout=30).read().decode()
assert "<html" in body.lower(), body[:200]
print("operator page answered at", found.group(0), len(body), "bytes")
PY
    kill -INT $page
    wait $page || { status=$?; cat page.log; exit $status; }'
arm_sum=$(awk 'END { print $1 }' "$logs/runner.log")
if [ -x "$src/.venv/bin/picam-ros" ]; then
    host_png=$logs/host-snapshot.png
    "$src/.venv/bin/picam-ros" --frames 1 --stream off --status-interval 0 --snapshot "$host_png" \
        >/dev/null 2>&1 || true
    host_sum=$(sha256sum "$host_png" 2>/dev/null | cut -d' ' -f1)
    if [ "$host_sum" = "$arm_sum" ]; then
        echo "check-arm64: runner snapshot of frame 0 byte-identical to this host's build ($arm_sum)"
    else
        echo "check-arm64: runner snapshot differs from this host's build: arm64 $arm_sum, host ${host_sum:-none}" >&2
        status=1
    fi
fi
echo "check-arm64: total $(( $(date +%s) - started )) s"
[ "$status" = 0 ] || fail "failed (see above)"
