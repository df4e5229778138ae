#!/usr/bin/env bash
# All benchmarks (`make bench`): service, vision engine, anomaly detection.
# Long-running; prints what it measured. Needs the Debian data packages
# listed below, installed here if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
OCELLUS_APT_PACKAGES="dataset-fashion-mnist python3-skimage opencv-doc gnome-backgrounds" bash scripts/install-deps.sh
echo "== service benchmarks (internal/server): start-up, DescribeProjects, training, DetectCustomLabels"
go test -run '^$' -bench . -benchtime 3s -count 3 -timeout 60m ./internal/server/ | grep -E '^(Benchmark|ok|FAIL)'
echo "== manifest engine"
go test -run '^$' -bench Validate50k -benchtime 2x ./internal/manifest/ | grep -E '^(Benchmark|ok|FAIL)'
bash scripts/bench-vision.sh
echo "== real-data quality (scripts/bench-quality.sh)"
bash scripts/bench-quality.sh
if [ -f scripts/bench-anomaly.sh ]; then bash scripts/bench-anomaly.sh; fi
