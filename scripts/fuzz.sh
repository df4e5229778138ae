#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a short time each
# (default 10s): `scripts/fuzz.sh 30s` for longer.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-10s}
grep -rl --include='*_test.go' '^func Fuzz' . | while read -r f; do
  pkg="./$(dirname "${f#./}")"
  grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //' | while read -r fn; do
    echo "fuzz $pkg $fn ($t)"
    go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$t" "$pkg" >/tmp/ocellus-fuzz.log 2>&1 || { cat /tmp/ocellus-fuzz.log; exit 1; }
  done
done
echo "fuzz: all targets ran without failures"
