#!/usr/bin/env bash
# Real-data quality benchmark (`make bench-quality`, docs/BENCHMARKS.md,
# first table): trains with the product's defaults on every set in
# ../shared/datasets and Fashion-MNIST and prints one table.
# `scripts/bench-quality.sh -only bccd` runs one set.
# Needs: scripts/install-onnxruntime.sh, ../shared (datasets and
# models/mobilenetv2-12-int8.onnx), Debian dataset-fashion-mnist.
set -euo pipefail
cd "$(dirname "$0")/.."
OCELLUS_APT_PACKAGES="dataset-fashion-mnist" bash scripts/install-deps.sh
if [[ ! -d ../shared/datasets ]]; then
	echo "bench-quality: ../shared/datasets not present" >&2
	exit 1
fi
mkdir -p bin
go build -o bin/qualitybench ./internal/vision/cmd/qualitybench
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
./bin/qualitybench "$@"
