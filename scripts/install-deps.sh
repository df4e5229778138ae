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
# (internal/console) drive it headless through chromedp.
for pkg in python3-boto3 libturbojpeg0 chromium ${OCELLUS_APT_PACKAGES:-}; do
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
