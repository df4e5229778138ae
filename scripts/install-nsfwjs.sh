#!/usr/bin/env bash
# Fetches the npm package nsfwjs (MIT), the open base model of Custom
# Moderation, into ./lib/ of the repository, for the converter's golden test
# and for `ocellus backbone pull nsfwjs-mobilenet_v2 --from lib/nsfwjs-4.4.0.tgz`.
#
# `npm pack` downloads the tarball without running any install script; its
# SHA-256 is pinned (the same pin as internal/vision/moderation). Idempotent:
# does nothing when the verified tarball is in place.
set -euo pipefail

NSFWJS_VERSION="4.4.0"
NSFWJS_TGZ_SHA256="585cd178f3b994337c4d10a87b080d342fc52f8b9bf0085c4d1f345a3a1c5382"

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/lib/nsfwjs-$NSFWJS_VERSION.tgz"

if [[ -f "$dest" && "$(sha256sum "$dest" | cut -d' ' -f1)" == "$NSFWJS_TGZ_SHA256" ]]; then
	exit 0
fi
command -v npm >/dev/null || { echo "install-nsfwjs: npm is required" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "install-nsfwjs: fetching nsfwjs@$NSFWJS_VERSION" >&2
(cd "$tmp" && npm pack --silent "nsfwjs@$NSFWJS_VERSION" >/dev/null)
tgz="$tmp/nsfwjs-$NSFWJS_VERSION.tgz"
got="$(sha256sum "$tgz" | cut -d' ' -f1)"
if [[ "$got" != "$NSFWJS_TGZ_SHA256" ]]; then
	echo "install-nsfwjs: SHA-256 mismatch: got $got want $NSFWJS_TGZ_SHA256" >&2
	exit 1
fi
mkdir -p "$root/lib"
install -m 0644 "$tgz" "$dest.tmp"
mv -f "$dest.tmp" "$dest"
echo "install-nsfwjs: installed $dest" >&2
