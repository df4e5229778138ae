#!/usr/bin/env bash
# All benchmarks (`make bench`): service, vision engine, anomaly detection.
# Long-running; prints what it measured. Needs the Debian data packages
# listed below, installed here if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
OCELLUS_APT_PACKAGES="dataset-fashion-mnist python3-skimage opencv-doc gnome-backgrounds" bash scripts/install-deps.sh
echo "== service benchmarks (internal/server): start-up, DescribeProjects, training, DetectCustomLabels"
go test -run '^$' -bench . -skip 'BenchmarkModerationAdapter|BenchmarkModerationFalsePositivesAll' -benchtime 3s -count 3 -timeout 60m ./internal/server/ | grep -E '^(Benchmark|ok|FAIL)'
echo "== Custom Moderation (internal/server): adapter learning Gambling from real photos, base-model false positives on every photo"
GOMAXPROCS=1 go test -run '^$' -bench 'BenchmarkModerationAdapter$' -benchtime 40x -count 2 -v -timeout 30m ./internal/server/ | grep -E '^(Benchmark|ok|FAIL|    adapters_test)'
GOMAXPROCS=1 go test -run '^$' -bench 'BenchmarkModerationFalsePositivesAll$' -benchtime 1x -v -timeout 30m ./internal/server/ | grep -E '^(Benchmark|ok|FAIL|    adapters_test)'
echo "== manifest engine"
go test -run '^$' -bench Validate50k -benchtime 2x ./internal/manifest/ | grep -E '^(Benchmark|ok|FAIL)'
bash scripts/bench-vision.sh
echo "== real-data quality (scripts/bench-quality.sh)"
bash scripts/bench-quality.sh
if [ -f scripts/bench-anomaly.sh ]; then bash scripts/bench-anomaly.sh; fi
