#!/usr/bin/env bash
# Installs the ONNX Runtime shared library into ./lib/ of the repository.
#
# The library comes from the npm package onnxruntime-node (MIT), which ships a
# CPU build for linux/x64 that needs only glibc/libstdc++. `npm pack` downloads
# the tarball without running the package's install scripts. The tarball's
# SHA-256 is pinned. Idempotent: does nothing when the library is in place.
set -euo pipefail

ORT_VERSION="1.24.3"
ORT_TGZ_SHA256="aa1bb5fa261ea68de05dd53efbba210cd7adf2d2850f4c3a201054c74cc78040"
MEMBER="package/bin/napi-v6/linux/x64/libonnxruntime.so.1"

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/lib"
stamp="$dest/.onnxruntime-version"

if [[ -f "$dest/libonnxruntime.so.1" && -f "$stamp" && "$(cat "$stamp")" == "$ORT_VERSION" ]]; then
	exit 0
fi
if [[ "$(uname -s)/$(uname -m)" != "Linux/x86_64" ]]; then
	echo "install-onnxruntime: only linux/x86_64 is supported by this script" >&2
	exit 1
fi
source "$root/scripts/npm-pack-pinned.sh"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
tgz="$(npm_pack_pinned onnxruntime-node "$ORT_VERSION" "$ORT_TGZ_SHA256" "$tmp")"
tar -xzf "$tgz" -C "$tmp" "$MEMBER"
mkdir -p "$dest"
install -m 0644 "$tmp/$MEMBER" "$dest/libonnxruntime.so.1.tmp"
mv -f "$dest/libonnxruntime.so.1.tmp" "$dest/libonnxruntime.so.1"
echo "$ORT_VERSION" >"$stamp"
echo "install-onnxruntime: installed $dest/libonnxruntime.so.1 (ONNX Runtime $ORT_VERSION)" >&2
