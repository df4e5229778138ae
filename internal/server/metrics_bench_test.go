package server

import (
	"log/slog"
	"testing"
	"time"
)

// BenchmarkObserve is what counting and timing costs each request.
func BenchmarkObserve(b *testing.B) {
	m := newMetrics(state{node: "n"}, slog.New(slog.DiscardHandler))
	for b.Loop() {
		m.observe("rekognition", "DetectCustomLabels", "", 3*time.Millisecond)
	}
}
