#!/usr/bin/env bash
# Vision engine benchmarks (docs/BENCHMARKS.md, section "Vision engine"):
# Fashion-MNIST accuracy and training time on the shared MobileNetV2-int8
# backbone and on the built-in extractor, and prediction latency/throughput
# on a 640x480 JPEG; mAP@0.5 of the detection head on synthetic scenes.
# Needs: scripts/install-onnxruntime.sh, Debian dataset-fashion-mnist,
# python3-skimage, opencv-doc and gnome-backgrounds.
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
	if [[ -d /usr/lib/python3/dist-packages/skimage/data && -d /usr/share/doc/opencv-doc/examples/data ]]; then
		echo "== Synthetic detection scenes (500 train / 200 test, 6 classes), MobileNetV2-int8 at 320x320"
		./bin/visionbench -backbone "$shared" -detection "$@"
	else
		echo "== detection skipped: install python3-skimage, opencv-doc and gnome-backgrounds" >&2
	fi
else
	echo "== $shared not present: skipping the ONNX backbone run"
fi
echo "== Fashion-MNIST, same split, built-in weight-free extractor"
./bin/visionbench -backbone builtin "$@"
