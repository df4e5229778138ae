package jobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/ocellus/ocellus/internal/jobs"
)

func Example() {
	dir, _ := os.MkdirTemp("", "jobs-example-")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	// The queue gets its own SQLite file, opened with the settings River needs.
	db, err := jobs.OpenSQLiteDB(filepath.Join(dir, "jobs.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	done := make(chan string)
	q, err := jobs.Open(ctx, db, jobs.Config{
		Handlers: map[string]jobs.Handler{
			// Idempotent: restarts from scratch after a crash.
			"train": func(ctx context.Context, payload []byte) error {
				var in struct{ ModelVersionARN string }
				if err := json.Unmarshal(payload, &in); err != nil {
					return err // final: OnFailed, no retry
				}
				// ... train, honouring ctx; wrap transient errors with jobs.Retry(err).
				done <- in.ModelVersionARN
				return nil
			},
		},
		Timeouts: map[string]time.Duration{"train": 2 * time.Hour},
		OnFailed: func(ctx context.Context, kind, key string, payload []byte, err error) {
			// Mark the model version TRAINING_FAILED with err as the status message.
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]string{"ModelVersionARN": "arn:aws:rekognition:us-east-1:1:project/p/version/v1/1"})
	// Keyed by the model version: enqueueing it twice while pending or running is a no-op.
	if err := q.Enqueue(ctx, "train", "p/v1", payload); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-done)
	if err := q.Close(ctx); err != nil {
		log.Fatal(err)
	}
	// Output: arn:aws:rekognition:us-east-1:1:project/p/version/v1/1
}
