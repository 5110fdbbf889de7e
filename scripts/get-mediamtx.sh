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
# Build the pinned MediaMTX release from its Go module into a cache directory and print the
# binary's path (the only line on stdout). Nothing of MediaMTX enters this repository: the module
# comes from the Go module proxy, hls.js (which MediaMTX embeds) from the npm registry.
#
# ARM (a Pi natively, or cross-built with --arch / GOARCH): MediaMTX's ARM builds embed the helper
# of its `rpiCamera` source (internal/staticsources/rpicamera, `//go:embed mtxrpicam_64/*` on
# arm64, `mtxrpicam_32/*` on arm), a prebuilt libcamera program that upstream's `go generate`
# downloads. picam_ros never uses that source (its encoder publishes over RTSP; rpicam-vid is run
# by picam_ros itself, and config/mediamtx.yml defines no rpiCamera path), so the folder is
# supplied with a stand-in `mtxrpicam` that only says so and exits 1: a path configured with
# `source: rpiCamera` fails with that message, everything else is upstream's code unchanged.
# Upstream documents replacing that folder with one of your own ("Custom libcamera" in its
# docs/6-misc/1-compile.md); --rpicamera DIR does exactly that with a built mediamtx-rpicamera.
#
# Usage: scripts/get-mediamtx.sh [--print-path] [--arch amd64|arm64|armv7|armv6] [--rpicamera DIR]
#   --arch       target (default: GOARCH/GOARM if set, else this machine); the binary of another
#                architecture goes to mediamtx-<version>-linux_<arch>/ in the cache
#   --rpicamera  a mediamtx-rpicamera build folder (holding mtxrpicam_64 or mtxrpicam_32) to embed
# Environment: PICAM_CACHE (default ~/.cache/picam_ros), GOARCH/GOARM (as --arch)
set -euo pipefail

MEDIAMTX_VERSION=v1.20.1   # the one place the MediaMTX version is pinned
module=github.com/bluenviron/mediamtx
fail() { echo "get-mediamtx: $*" >&2; exit 1; }

print_path=0 arch="" rpicamera=""
while [ $# -gt 0 ]; do
    case "$1" in
        --print-path) print_path=1 ;;
        --arch) [ $# -ge 2 ] || fail "--arch needs a value (amd64, arm64, armv7, armv6)"; arch=$2; shift ;;
        --rpicamera) [ $# -ge 2 ] || fail "--rpicamera needs a folder"; rpicamera=$2; shift ;;
        *) fail "unknown option '$1' (use --print-path, --arch ARCH, --rpicamera DIR)" ;;
    esac
    shift
done

case "$(uname -m)" in
    x86_64) native=amd64 ;; aarch64 | arm64) native=arm64 ;; armv7l) native=armv7 ;;
    armv6l) native=armv6 ;; *) native=$(uname -m) ;;
esac
if [ -z "$arch" ] && [ -n "${GOARCH:-}" ]; then
    arch=$GOARCH
    [ "$GOARCH" != arm ] || arch=armv${GOARM:-7}
fi
arch=${arch:-$native}
case "$arch" in
    amd64 | arm64) goarch=$arch goarm="" ;;
    armv7 | armv6) goarch=arm goarm=${arch#armv} ;;
    *) fail "--arch $arch: not one of amd64, arm64, armv7, armv6" ;;
esac

cache="${PICAM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/picam_ros}/mediamtx-$MEDIAMTX_VERSION"
[ "$arch" = "$native" ] || cache="$cache-linux_$arch"
binary="$cache/mediamtx"

if [ "$print_path" = 1 ]; then echo "$binary"; exit 0; fi
if [ -z "$rpicamera" ] && [ -x "$binary" ] && { [ "$arch" != "$native" ] || "$binary" --version >/dev/null 2>&1; }; then
    echo "$binary"; exit 0
fi
if [ -n "$rpicamera" ]; then
    helper=mtxrpicam_64; [ "$goarch" = arm64 ] || helper=mtxrpicam_32
    [ "$goarch" != amd64 ] || fail "--rpicamera: the camera helper is embedded in ARM builds only"
    [ -x "$rpicamera/$helper/mtxrpicam" ] || fail "--rpicamera $rpicamera: no $helper/mtxrpicam in it (build mediamtx-rpicamera first)"
fi

command -v go >/dev/null || fail "no Go toolchain (go) on PATH: install Go >= 1.26 (the go.mod of $MEDIAMTX_VERSION; \
Debian bookworm's golang is 1.19), or download the release binary from \
https://github.com/bluenviron/mediamtx/releases/tag/$MEDIAMTX_VERSION and set MEDIAMTX=/path/to/mediamtx"
command -v npm >/dev/null || fail "npm is needed to fetch hls.js (which MediaMTX embeds): apt-get install npm"

start=$(date +%s)
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
echo "get-mediamtx: downloading $module@$MEDIAMTX_VERSION" >&2
moddir=$(go mod download -json "$module@$MEDIAMTX_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$moddir" ] || fail "go mod download $module@$MEDIAMTX_VERSION gave no module directory"
cp -r "$moddir" "$work/src"
chmod -R u+w "$work/src"   # the module cache is read-only

# The files upstream generates (go generate) and does not publish in the module.
echo "$MEDIAMTX_VERSION" > "$work/src/internal/core/VERSION"
hlsjs=$(tr -d ' \n\r' < "$work/src/internal/servers/hls/hlsjsdownloader/VERSION")
echo "get-mediamtx: fetching hls.js@${hlsjs#v} from npm" >&2
(cd "$work" && npm pack --silent "hls.js@${hlsjs#v}" >/dev/null && tar -xzf hls.js-*.tgz package/dist/hls.min.js)
cp "$work/package/dist/hls.min.js" "$work/src/internal/servers/hls/hls.min.js"
embed_note=""
if [ "$goarch" != amd64 ]; then
    camdir="$work/src/internal/staticsources/rpicamera"
    if [ -n "$rpicamera" ]; then
        cp -r "$rpicamera/$helper" "$camdir/"
        embed_note=" with the camera helper from $rpicamera"
    else
        for helper in mtxrpicam_32 mtxrpicam_64; do
            mkdir -p "$camdir/$helper"
            cat > "$camdir/$helper/mtxrpicam" <<'STUB'
#!/bin/sh
echo "mtxrpicam: this MediaMTX was built by picam_ros' get-mediamtx.sh without the Raspberry Pi camera helper: the rpiCamera source is not available (picam_ros publishes over RTSP). Use MediaMTX's release binary, or build it with its own go generate, for source: rpiCamera." >&2
exit 1
STUB
        done
        embed_note=" (rpiCamera source left out: a stand-in helper)"
    fi
fi

echo "get-mediamtx: building for linux/$arch (CGO_ENABLED=0)$embed_note" >&2
mkdir -p "$cache"
(cd "$work/src" && CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOARM=$goarm \
    go build -trimpath -ldflags "-s -w" -o "$work/mediamtx" .)
if [ "$arch" = "$native" ]; then
    "$work/mediamtx" --version >/dev/null || fail "the built binary does not run"
elif version=$("$work/mediamtx" --version 2>/dev/null); then
    echo "get-mediamtx: the linux/$arch binary runs here (emulated): $version" >&2
fi
mv -f "$work/mediamtx" "$binary"
echo "get-mediamtx: built MediaMTX $MEDIAMTX_VERSION for linux/$arch in $(( $(date +%s) - start )) s" >&2
echo "$binary"
