package jobs

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkTrivialJobs measures end-to-end throughput: b.N jobs with an
// empty handler, enqueued from 4 goroutines, until the last has run.
// jobs/s is the figure to quote; enqueue/s is the insert rate alone.
func BenchmarkTrivialJobs(b *testing.B) {
	for _, be := range backends(b) {
		for _, workers := range []int{2, 10} {
			b.Run(fmt.Sprintf("%s/workers=%d", be.name, workers), func(b *testing.B) {
				var done atomic.Int64
				all := make(chan struct{})
				n := int64(b.N)
				q, closeQ := be.open(b, be.store(b), Config{Workers: workers, PollInterval: 50 * time.Millisecond, Handlers: map[string]Handler{
					"noop": func(context.Context, []byte) error {
						if done.Add(1) == n {
							close(all)
						}
						return nil
					},
				}})
				defer closeQ()
				b.ResetTimer()
				start := time.Now()
				var wg sync.WaitGroup
				for g := range 4 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := g; i < b.N; i += 4 {
							if err := q.Enqueue(context.Background(), "noop", fmt.Sprint(i), []byte("{}")); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				enq := time.Since(start)
				select {
				case <-all:
				case <-time.After(5 * time.Minute):
					b.Fatalf("%d of %d jobs ran", done.Load(), n)
				}
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
				b.ReportMetric(float64(b.N)/enq.Seconds(), "enqueue/s")
			})
		}
	}
}

// BenchmarkCounts measures what a metrics scrape costs the queue: Counts
// over 2,000 finished jobs (what a busy day leaves before River's cleaner
// deletes them).
func BenchmarkCounts(b *testing.B) {
	const jobs = 2000
	for _, be := range backends(b) {
		b.Run(be.name, func(b *testing.B) {
			var done atomic.Int64
			all := make(chan struct{})
			q, closeQ := be.open(b, be.store(b), Config{Workers: 4, PollInterval: 50 * time.Millisecond, Handlers: map[string]Handler{
				"noop": func(context.Context, []byte) error {
					if done.Add(1) == jobs {
						close(all)
					}
					return nil
				},
			}})
			defer closeQ()
			ctx := context.Background()
			for i := range jobs {
				if err := q.Enqueue(ctx, "noop", fmt.Sprint(i), nil); err != nil {
					b.Fatal(err)
				}
			}
			select {
			case <-all:
			case <-time.After(5 * time.Minute):
				b.Fatalf("%d of %d jobs ran", done.Load(), jobs)
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := q.Counts(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
