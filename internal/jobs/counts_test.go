package jobs

import (
	"context"
	"fmt"
	"testing"
)

// Counts reports every kind in every state, and counts running and
// finished jobs by our kind (not River's single kind).
func TestCounts(t *testing.T) {
	forEach(t, func(t *testing.T, b backend) {
		release := make(chan struct{})
		running := make(chan struct{}, 10)
		q, closeQ := b.open(t, b.store(t), fast(Config{Workers: 2, Handlers: map[string]Handler{
			"train": func(ctx context.Context, _ []byte) error {
				running <- struct{}{}
				select {
				case <-release:
				case <-ctx.Done():
				}
				return nil
			},
			"copy": func(context.Context, []byte) error { return nil },
			"idle": func(context.Context, []byte) error { return nil },
		}}))
		defer closeQ()
		defer close(release)
		ctx := context.Background()
		if err := q.Enqueue(ctx, "train", "t1", nil); err != nil {
			t.Fatal(err)
		}
		receive(t, running, "train running")
		for i := range 5 {
			if err := q.Enqueue(ctx, "copy", fmt.Sprint("c", i), nil); err != nil {
				t.Fatal(err)
			}
		}
		var got map[string]int
		waitFor(t, "5 copies completed", func() bool {
			counts, err := q.Counts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got = map[string]int{}
			for _, c := range counts {
				got[c.Kind+"/"+c.State] = c.Jobs
			}
			return got["copy/completed"] == 5
		})
		if got["train/running"] != 1 {
			t.Errorf("train/running = %d, want 1 (%v)", got["train/running"], got)
		}
		for _, key := range []string{"idle/completed", "idle/available", "train/discarded", "copy/running"} {
			if n, ok := got[key]; !ok || n != 0 {
				t.Errorf("%s = %d (present %v), want a 0 sample", key, n, ok)
			}
		}
		if len(got) != 3*8 {
			t.Errorf("%d samples, want 3 kinds x 8 states: %v", len(got), got)
		}
		all, err := q.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 3*8 || all[0].Kind != "copy" || all[8].Kind != "idle" || all[16].Kind != "train" {
			t.Errorf("Counts = %v, want 24 samples sorted by kind", all)
		}
	})
}
