//go:build race

package vision

// raceEnabled shortens the heaviest tests under the race detector, which
// slows the Go numeric loops about tenfold.
const raceEnabled = true
