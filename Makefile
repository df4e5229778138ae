# Ocellus — self-hosted Rekognition Custom Labels and Lookout for Vision.
# `make run` installs what is missing, builds and starts the service; `make test` runs the tests.

SHELL := /bin/bash
GO ?= go
BIN := bin/ocellus
DATA_DIR ?= ./data
ADDR ?= 127.0.0.1:4566
export CGO_ENABLED := 1
# Tools the tests run that no package manager here has (versitygw, an
# independent S3): scripts/install-deps.sh builds them into this directory
# and internal/e2e/s3test looks for them there.
export OCELLUS_TOOLS_DIR ?= $(HOME)/.cache/ocellus/tools

# HEAVY_TESTS train real models: they skip under -race (the detector makes
# the engine's Go code many times slower without finding more) and run in
# the non-race pass of `make test` instead. cmd/ocellus's
# TestRaceSkippedTestsRunInMakeTest fails when a test that skips under
# -race is missing here.
HEAVY_TESTS := ^(TestDetection|TestDetectionSkipsBadImages|TestDetectionProject|TestDetectionProjectFromConvertedBCCD|TestLookoutAlwaysMembers|TestLookoutTrainingResumesAfterRestart|TestLookoutTrainAndTestDatasets|TestLookoutCookies|TestCookies|TestLookoutModelArtifactSealedWithKmsKey|TestModerationFalsePositives|TestThreeNodesScaleOut)$$

.PHONY: help deps build run test test-go test-scripts fuzz bench bench-quality vet fmt generate clean

help: ## Show this help
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-14s %s\n", $$1, $$2}'

deps: ## Install what is missing (Debian packages, ONNX Runtime, Go modules)
	@bash scripts/install-deps.sh
	@$(GO) mod download

build: deps ## Build ./bin/ocellus
	$(GO) build -o $(BIN) ./cmd/ocellus

run: build ## Build and start the service on http://127.0.0.1:4566 with data under ./data
	./$(BIN) serve --addr $(ADDR) --data-dir $(DATA_DIR)

test: build vet ## Run all tests (Go unit + end-to-end, fuzz smoke, AWS CLI/boto3 script tests)
	OCELLUS_MAKE_TEST=1 $(GO) test -race -count=1 -timeout 20m ./...
	OCELLUS_MAKE_TEST=1 $(GO) test -count=1 -timeout 10m -run '$(HEAVY_TESTS)' ./internal/server/ ./internal/vision/ ./internal/vision/anomaly/
	OCELLUS_MAKE_TEST=1 $(GO) test -count=1 -timeout 10m -run 'TestGolden' ./internal/vision/moderation/
	$(MAKE) --no-print-directory fuzz
	bash tests/run-scripts.sh

fuzz: ## Run each fuzz target briefly (5 s; scripts/fuzz.sh 60s for longer)
	@bash scripts/fuzz.sh 5s

bench: build ## Run the benchmarks (long)
	bash scripts/bench.sh

bench-quality: build ## Real-data quality benchmark: one table (ARGS="-only bccd" for one set)
	bash scripts/bench-quality.sh $(ARGS)

vet: ## go vet and gofmt check
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1)

generate: ## Regenerate code from the AWS API models
	$(GO) generate ./...

clean: ## Remove build output (keeps ./data)
	rm -rf bin
