//go:build race

package server_test

// raceBuild skips the heavy cookie training under the race detector, which
// makes the engine's Go code many times slower without finding more.
const raceBuild = true
