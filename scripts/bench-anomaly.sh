#!/usr/bin/env bash
# Anomaly engine benchmarks (docs/BENCHMARKS.md, "Anomaly detection"): AWS's Lookout for
# Vision cookie data set (training time for the 63 training images, accuracy,
# AUROC and F1 on the 22 test images, mask IoU on held-out training
# anomalies, in-process Detect latency, model size) and synthetic defects on
# real CC0 textures (image AUROC per texture), each with the shared
# MobileNetV2-int8 backbone and with the built-in weight-free extractor.
# Needs: scripts/install-onnxruntime.sh, ../shared (the cookie data set and
# the ONNX file), and the Debian package python3-skimage (textures).
# Extra arguments go to anomalybench (e.g. -seed 2, -input 448, -v).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-onnxruntime.sh
textures=/usr/lib/python3/dist-packages/skimage/data
if [[ ! -f $textures/brick.png ]]; then
	echo "bench-anomaly: installing python3-skimage for the brick/grass/gravel textures" >&2
	apt-get update -qq && apt-get install -y -qq python3-skimage
fi
mkdir -p bin
go build -o bin/anomalybench ./internal/vision/anomaly/cmd/anomalybench
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
cookies=../shared/datasets/lookout-cookies
shared=../shared/models/mobilenetv2-12-int8.onnx
args=(-textures "$textures")
[[ -d $cookies ]] && args+=(-cookies "$cookies") || echo "== $cookies not present: skipping the cookie runs"
if [[ -f $shared ]]; then
	echo "== MobileNetV2-int8 backbone (ONNX Runtime, variable input size)"
	./bin/anomalybench -model "$shared" "${args[@]}" "$@"
	echo "== MobileNetV2-int8, textures with -margin 2 (border patches left out of the image score)"
	./bin/anomalybench -model "$shared" -textures "$textures" -margin 2 "$@"
else
	echo "== $shared not present: skipping the ONNX backbone run"
fi
echo "== built-in weight-free extractor"
./bin/anomalybench "${args[@]}" "$@"
echo "== built-in extractor, textures with -margin 2"
./bin/anomalybench -textures "$textures" -margin 2 "$@"
echo "== load after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
