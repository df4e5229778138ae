package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ocellus/ocellus/internal/e2e/pgtest"
	"github.com/ocellus/ocellus/internal/jobs"
	"github.com/ocellus/ocellus/internal/ocellus"
)

// TestInTxKeepsRecordAndJobTogether: a project stored and a job enqueued
// on the same database in one InTx are both kept when fn succeeds (and
// the job then runs), and neither when fn fails after both were written.
func TestInTxKeepsRecordAndJobTogether(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, pgtest.Start(t).NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ran := make(chan string, 4)
	q, err := jobs.OpenPostgres(ctx, s.Pool(), jobs.Config{
		Handlers:     map[string]jobs.Handler{"probe": func(_ context.Context, p []byte) error { ran <- string(p); return nil }},
		PollInterval: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(ctx)

	newProject := func(name string) *ocellus.Project {
		created := time.UnixMilli(1_700_000_000_000).UTC()
		return &ocellus.Project{ARN: ocellus.ProjectARN("us-east-1", "111111111111", name, created), Account: "111111111111",
			Service: ocellus.Rekognition, Name: name, Feature: ocellus.FeatureCustomLabels, Status: ocellus.ProjectCreated, Created: created}
	}

	// Rolled back: fn fails after both writes.
	lost := newProject("lost")
	boom := errors.New("boom")
	err = s.InTx(ctx, func(ctx context.Context) error {
		if err := s.CreateProject(ctx, lost); err != nil {
			return err
		}
		if err := q.Enqueue(ctx, "probe", lost.ARN, []byte("lost")); err != nil {
			return err
		}
		// Inside the transaction the record is visible to its own calls.
		if _, err := s.Project(ctx, lost.ARN); err != nil {
			t.Errorf("project inside its transaction: %v", err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want boom", err)
	}
	if _, err := s.Project(ctx, lost.ARN); ocellus.KindOf(err) != ocellus.NotFound {
		t.Fatalf("rolled-back project: err = %v, want NotFound", err)
	}

	// Committed: both kept, the job runs.
	kept := newProject("kept")
	if err := s.InTx(ctx, func(ctx context.Context) error {
		if err := s.CreateProject(ctx, kept); err != nil {
			return err
		}
		return q.Enqueue(ctx, "probe", kept.ARN, []byte("kept"))
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Project(ctx, kept.ARN); err != nil {
		t.Fatalf("committed project: %v", err)
	}
	committed := time.Now()
	select {
	case p := <-ran:
		if p != "kept" {
			t.Fatalf("job ran with %q, want kept", p)
		}
		t.Logf("the committed job ran %v after the commit", time.Since(committed).Round(time.Millisecond))
	case <-time.After(20 * time.Second):
		t.Fatal("the committed job did not run")
	}
	// The rolled-back job never runs: the queue holds no other job.
	counts, err := q.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, c := range counts {
		total += c.Jobs
	}
	select {
	case p := <-ran:
		t.Fatalf("a second job ran: %q", p)
	case <-time.After(500 * time.Millisecond):
	}
	t.Logf("job counts after: %v", counts)
	if total != 1 {
		t.Fatalf("queue holds %d jobs, want 1 (the committed one): %v", total, counts)
	}
}
