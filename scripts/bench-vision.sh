#!/usr/bin/env bash
# Vision engine benchmarks (docs/BENCHMARKS.md, section "Vision engine"):
# Fashion-MNIST accuracy and training time on the shared MobileNetV2-int8
# backbone and on the built-in extractor, and prediction latency/throughput
# on a 640x480 JPEG. Needs: scripts/install-onnxruntime.sh, Debian
# dataset-fashion-mnist and python3-skimage (for the latency photo).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-onnxruntime.sh
if [[ ! -d /usr/share/datasets/fashion-mnist ]]; then
	echo "bench-vision: install the Debian package dataset-fashion-mnist" >&2
	exit 1
fi
mkdir -p bin
go build -o bin/visionbench ./internal/vision/cmd/visionbench
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
shared=../shared/models/mobilenetv2-12-int8.onnx
if [[ -f "$shared" ]]; then
	echo "== Fashion-MNIST, 200 train images/class, 10,000 test images, MobileNetV2-int8 backbone"
	./bin/visionbench -backbone "$shared" "$@"
else
	echo "== $shared not present: skipping the ONNX backbone run"
fi
echo "== Fashion-MNIST, same split, built-in weight-free extractor"
./bin/visionbench -backbone builtin "$@"
