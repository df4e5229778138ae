//go:build race

package server_test

// raceBuild skips the heavy training tests under the race detector, which
// makes the engine's Go code many times slower without finding more; the
// Makefile's HEAVY_TESTS runs them in the non-race pass of make test
// (cmd/ocellus's TestRaceSkippedTestsRunInMakeTest keeps that list whole).
const raceBuild = true
