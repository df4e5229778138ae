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
source "$root/scripts/npm-pack-pinned.sh"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
tgz="$(npm_pack_pinned nsfwjs "$NSFWJS_VERSION" "$NSFWJS_TGZ_SHA256" "$tmp")"
mkdir -p "$root/lib"
install -m 0644 "$tgz" "$dest.tmp"
mv -f "$dest.tmp" "$dest"
echo "install-nsfwjs: installed $dest" >&2
