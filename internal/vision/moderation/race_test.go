//go:build race

package moderation

// raceEnabled: the race detector slows the converter's Go loops about
// tenfold; under it the golden test converts the default model only, and
// `make test` runs the whole test again without -race.
const raceEnabled = true
