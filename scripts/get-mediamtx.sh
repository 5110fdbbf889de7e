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
# Usage: scripts/get-mediamtx.sh        Environment: PICAM_CACHE (default ~/.cache/picam_ros)
set -euo pipefail

MEDIAMTX_VERSION=v1.20.1   # the one place the MediaMTX version is pinned
module=github.com/bluenviron/mediamtx
cache="${PICAM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/picam_ros}/mediamtx-$MEDIAMTX_VERSION"
binary="$cache/mediamtx"

if [ "${1:-}" = "--print-path" ]; then echo "$binary"; exit 0; fi
if [ -x "$binary" ] && "$binary" --version >/dev/null 2>&1; then echo "$binary"; exit 0; fi

fail() { echo "get-mediamtx: $*" >&2; exit 1; }
command -v go >/dev/null || fail "no Go toolchain (go) on PATH: install Go >= 1.26 (the go.mod of v1.20.1), or download the \
release binary from https://github.com/bluenviron/mediamtx/releases/tag/$MEDIAMTX_VERSION and \
set MEDIAMTX=/path/to/mediamtx"
command -v npm >/dev/null || fail "npm is needed to fetch hls.js (which MediaMTX embeds): apt-get install npm"

start=$(date +%s)
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
echo "get-mediamtx: downloading $module@$MEDIAMTX_VERSION" >&2
moddir=$(go mod download -json "$module@$MEDIAMTX_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$moddir" ] || fail "go mod download $module@$MEDIAMTX_VERSION gave no module directory"
cp -r "$moddir" "$work/src"
chmod -R u+w "$work/src"   # the module cache is read-only

# The two files upstream generates (go generate) and does not publish in the module.
echo "$MEDIAMTX_VERSION" > "$work/src/internal/core/VERSION"
hlsjs=$(tr -d ' \n\r' < "$work/src/internal/servers/hls/hlsjsdownloader/VERSION")
echo "get-mediamtx: fetching hls.js@${hlsjs#v} from npm" >&2
(cd "$work" && npm pack --silent "hls.js@${hlsjs#v}" >/dev/null && tar -xzf hls.js-*.tgz package/dist/hls.min.js)
cp "$work/package/dist/hls.min.js" "$work/src/internal/servers/hls/hls.min.js"

echo "get-mediamtx: building (CGO_ENABLED=0)" >&2
mkdir -p "$cache"
(cd "$work/src" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/mediamtx" .)
"$work/mediamtx" --version >/dev/null || fail "the built binary does not run"
mv -f "$work/mediamtx" "$binary"
echo "get-mediamtx: built MediaMTX $MEDIAMTX_VERSION in $(( $(date +%s) - start )) s" >&2
echo "$binary"
