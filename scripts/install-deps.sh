#!/usr/bin/env bash
# Installs what `make build`/`make test` need and a fresh machine lacks.
# Idempotent: each step checks first. Debian packages via apt-get, the ONNX
# Runtime shared library from the npm registry, Go modules from the proxy.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
# Debian packages used by tests and benchmarks (real data, real clients).
# python3-boto3: Debian's boto3 still has the Lookout for Vision client
# (AWS removed it from current SDKs); the L4V script test runs it with
# /usr/bin/python3. libturbojpeg0: libjpeg-turbo, which Ocellus opens at run
# time to decode JPEGs about 3 times faster than image/jpeg (optional: without
# it the Go decoder is used). chromium: the web console's browser tests
# (internal/console) drive it headless through chromedp. postgresql: the
# server binaries the PostgreSQL store's tests start a private cluster with
# (internal/e2e/pgtest; under make test they fail without them).
for pkg in python3-boto3 libturbojpeg0 chromium postgresql ${OCELLUS_APT_PACKAGES:-}; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
command -v gcc >/dev/null 2>&1 || need_apt+=(gcc)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ -f scripts/install-onnxruntime.sh ]; then
  bash scripts/install-onnxruntime.sh
fi

# The moderation base model's npm package: optional for building and
# serving (without it only moderation is unavailable), needed by the
# converter's golden test, which `make test` does not let skip.
if [ -f scripts/install-nsfwjs.sh ]; then
  bash scripts/install-nsfwjs.sh || echo "install-deps: nsfwjs not fetched (offline?); moderation's base model stays uninstalled" >&2
fi

# versitygw: an independent S3 (posix backend) that the external-S3 tests
# run Ocellus against (internal/e2e/s3test; under make test they fail
# without it). Built with `go install` from the Go module proxy at a pinned
# version into the tools directory, OCELLUS_TOOLS_DIR (default
# ~/.cache/ocellus/tools, outside the clone so that a fresh clone reuses
# it; the Makefile passes the same directory to the tests). Skipped when
# that version is already there (read from the binary's build info; its
# --version says only "git"). Building it takes a few minutes, once.
VERSITYGW_VERSION=v1.8.0
tools="${OCELLUS_TOOLS_DIR:-$HOME/.cache/ocellus/tools}"
if ! go version -m "$tools/versitygw" 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]]+github.com/versity/versitygw[[:space:]]+$VERSITYGW_VERSION[[:space:]]"; then
  echo "install-deps: go install github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION into $tools (a few minutes, once)"
  mkdir -p "$tools"
  GOBIN="$tools" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
fi
