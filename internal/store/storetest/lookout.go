package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/store"
)

// testLookout covers the Lookout-for-Vision-only state: idempotency
// tokens, model versions (never reused) with their artifact paths,
// packaging jobs.
func testLookout(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.UnixMilli(5000).UTC()

	// Tokens: absent, saved, replaced.
	wantKind(t, func() error { _, err := s.ClientToken(ctx, "111111111111", "tok"); return err }(), ocellus.NotFound)
	tok := &store.ClientToken{Account: "111111111111", Token: "tok", Operation: "CreateModel", ParamsHash: "h1", Result: []byte(`{"a":1}`), Created: now}
	if err := s.PutClientToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	got, err := s.ClientToken(ctx, "111111111111", "tok")
	if err != nil || got.ParamsHash != "h1" || string(got.Result) != `{"a":1}` || !got.Created.Equal(now) || got.Operation != "CreateModel" {
		t.Fatalf("token = %+v, %v", got, err)
	}
	wantKind(t, func() error { _, err := s.ClientToken(ctx, "222222222222", "tok"); return err }(), ocellus.NotFound)
	tok.ParamsHash = "h2"
	if err := s.PutClientToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ClientToken(ctx, "111111111111", "tok"); got.ParamsHash != "h2" {
		t.Fatalf("replaced token = %+v", got)
	}

	testClaims(t, s, now)

	// Models: versions 1, 2, 3; a deleted version is not reused.
	const proj = "arn:aws:lookoutvision:us-east-1:111111111111:project/p"
	arn := func(v int) string { return fmt.Sprintf("arn:aws:lookoutvision:us-east-1:111111111111:model/p/%d", v) }
	var ms []*ocellus.Model
	for i := 0; i < 3; i++ {
		m := &ocellus.Model{ProjectARN: proj, Account: "111111111111", Status: ocellus.ModelTraining, Created: now, OutputBucket: "b", OutputPrefix: "out/"}
		if err := s.CreateLookoutModel(ctx, m, arn); err != nil {
			t.Fatal(err)
		}
		if m.Version != i+1 || m.ARN != arn(i+1) {
			t.Fatalf("model %d: version %d arn %s", i, m.Version, m.ARN)
		}
		ms = append(ms, m)
	}
	if err := s.DeleteLookoutModel(ctx, proj, 3); err != nil {
		t.Fatal(err)
	}
	wantKind(t, s.DeleteLookoutModel(ctx, proj, 3), ocellus.NotFound)
	m4 := &ocellus.Model{ProjectARN: proj, Account: "111111111111", Status: ocellus.ModelTraining, Created: now}
	if err := s.CreateLookoutModel(ctx, m4, arn); err != nil || m4.Version != 4 {
		t.Fatalf("after delete: version %d, %v", m4.Version, err)
	}
	ms[0].Status, ms[0].HasPerformance, ms[0].F1, ms[0].EvaluationEnd = ocellus.ModelTrained, true, 0.5, now
	if err := s.UpdateLookoutModel(ctx, ms[0]); err != nil {
		t.Fatal(err)
	}
	m1, err := s.LookoutModel(ctx, proj, 1)
	if err != nil || m1.Status != ocellus.ModelTrained || !m1.HasPerformance || m1.F1 != 0.5 || !m1.EvaluationEnd.Equal(now) || m1.OutputPrefix != "out/" {
		t.Fatalf("model 1 = %+v, %v", m1, err)
	}
	page, _ := s.LookoutModels(ctx, proj, 0, 2)
	if len(page) != 2 || page[0].Version != 1 || page[1].Version != 2 {
		t.Fatalf("page = %+v", page)
	}
	rest, _ := s.LookoutModels(ctx, proj, 2, 10)
	if len(rest) != 1 || rest[0].Version != 4 {
		t.Fatalf("rest = %+v", rest)
	}
	training, _ := s.LookoutModelsByStatus(ctx, ocellus.ModelTraining, ocellus.ModelStartingHosting)
	if len(training) != 2 {
		t.Fatalf("training = %d", len(training))
	}
	// The record names its sealed artifact file (the artifact store's).
	m1.Artifact = "models/abc.ocellus-model"
	if err := s.UpdateLookoutModel(ctx, m1); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LookoutModel(ctx, proj, 1); err != nil || got.Artifact != m1.Artifact {
		t.Fatalf("artifact path = %+v, %v", got, err)
	}
	if err := s.SetTags(ctx, m1.ARN, map[string]string{"k": "v"}, 10); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteLookoutModel(ctx, proj, 1); err != nil {
		t.Fatal(err)
	}
	wantKind(t, func() error { _, err := s.LookoutModel(ctx, proj, 1); return err }(), ocellus.NotFound)
	if tags, _ := s.Tags(ctx, m1.ARN); len(tags) != 0 {
		t.Fatalf("tags left on a deleted model: %v", tags)
	}

	// Packaging jobs.
	for i, name := range []string{"j1", "j2", "j3"} {
		j := &ocellus.PackagingJob{ProjectARN: proj, Account: "111111111111", Name: name, ModelVersion: 2, Config: []byte(`{"x":1}`),
			Status: ocellus.PackagingCreated, Created: now.Add(time.Duration(i) * time.Second), Updated: now}
		if err := s.CreatePackagingJob(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	wantKind(t, s.CreatePackagingJob(ctx, &ocellus.PackagingJob{ProjectARN: proj, Name: "j1", Status: ocellus.PackagingCreated, Created: now, Updated: now}), ocellus.AlreadyExists)
	js, _ := s.PackagingJobs(ctx, proj, "j1", 10)
	if len(js) != 2 || js[0].Name != "j2" {
		t.Fatalf("jobs after j1 = %+v", js)
	}
	j2 := js[0]
	j2.Status, j2.Output, j2.Updated = ocellus.PackagingSucceeded, []byte(`{"k":"v"}`), now.Add(time.Minute)
	if err := s.UpdatePackagingJob(ctx, j2); err != nil {
		t.Fatal(err)
	}
	if j, err := s.PackagingJob(ctx, proj, "j2"); err != nil || j.Status != ocellus.PackagingSucceeded || string(j.Output) != `{"k":"v"}` || string(j.Config) != `{"x":1}` {
		t.Fatalf("job = %+v, %v", j, err)
	}
	if open, _ := s.PackagingJobsByStatus(ctx, ocellus.PackagingCreated, ocellus.PackagingRunning); len(open) != 2 {
		t.Fatalf("open jobs = %d", len(open))
	}
	if err := s.DeleteLookoutProject(ctx, proj); err != nil {
		t.Fatal(err)
	}
	if js, _ := s.PackagingJobs(ctx, proj, "", 0); len(js) != 0 {
		t.Fatalf("jobs after project delete = %d", len(js))
	}
	m5 := &ocellus.Model{ProjectARN: proj, Account: "111111111111", Status: ocellus.ModelTraining, Created: now}
	if err := s.DeleteLookoutModel(ctx, proj, 2); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteLookoutModel(ctx, proj, 4); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateLookoutModel(ctx, m5, arn); err != nil || m5.Version != 1 {
		t.Fatalf("a recreated project starts at version 1: got %d, %v", m5.Version, err)
	}
}

// testClaims: a claim saves a pending record only over the state it read;
// a release removes only its own pending claim.
func testClaims(t *testing.T, s store.Store, now time.Time) {
	ctx := context.Background()
	const acct = "111111111111"
	claim := func(created time.Time) *store.ClientToken {
		return &store.ClientToken{Account: acct, Token: "claimed", Operation: "CreateModel", ParamsHash: "h", Pending: true, Created: created}
	}
	if ok, err := s.ClaimClientToken(ctx, claim(now), nil); err != nil || !ok {
		t.Fatalf("first claim: %v, %v", ok, err)
	}
	if ok, err := s.ClaimClientToken(ctx, claim(now.Add(time.Millisecond)), nil); err != nil || ok {
		t.Fatalf("second claim of an absent token: %v, %v", ok, err)
	}
	got, err := s.ClientToken(ctx, acct, "claimed")
	if err != nil || !got.Pending || len(got.Result) != 0 || !got.Created.Equal(now) {
		t.Fatalf("claimed token = %+v, %v", got, err)
	}
	later := now.Add(time.Second)
	if ok, err := s.ClaimClientToken(ctx, claim(later), got); err != nil || !ok {
		t.Fatalf("claim over the record read: %v, %v", ok, err)
	}
	if ok, err := s.ClaimClientToken(ctx, claim(later.Add(time.Second)), got); err != nil || ok {
		t.Fatalf("claim over a record that changed since: %v, %v", ok, err)
	}
	// Releasing another claim's time leaves the record; its own removes it.
	if err := s.ReleaseClientToken(ctx, acct, "claimed", now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClientToken(ctx, acct, "claimed"); err != nil {
		t.Fatalf("released by another claim's time: %v", err)
	}
	if err := s.ReleaseClientToken(ctx, acct, "claimed", later); err != nil {
		t.Fatal(err)
	}
	wantKind(t, func() error { _, err := s.ClientToken(ctx, acct, "claimed"); return err }(), ocellus.NotFound)
	// A completed record is never released.
	done := claim(later)
	done.Pending, done.Result = false, []byte(`{"ok":true}`)
	if err := s.PutClientToken(ctx, done); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseClientToken(ctx, acct, "claimed", later); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ClientToken(ctx, acct, "claimed"); err != nil || got.Pending || string(got.Result) != `{"ok":true}` {
		t.Fatalf("completed token after a release = %+v, %v", got, err)
	}
}

// RaceClientTokens claims one token from two handles on the same database
// (two nodes) at once, first while it is absent, then over the record they
// both read: each time exactly one claim wins.
func RaceClientTokens(t *testing.T, a, b store.Store) {
	ctx := context.Background()
	const acct, n = "111111111111", 16
	base := time.UnixMilli(1_000_000).UTC()
	race := func(prev *store.ClientToken, offset int) int {
		wins := make(chan bool, n)
		errs := make(chan error, n)
		for i := range n {
			s := a
			if i%2 == 1 {
				s = b
			}
			go func() {
				tok := &store.ClientToken{Account: acct, Token: "race", Operation: "CreateModel", ParamsHash: fmt.Sprint(i), Pending: true,
					Created: base.Add(time.Duration(offset+i) * time.Millisecond)}
				ok, err := s.ClaimClientToken(ctx, tok, prev)
				errs <- err
				wins <- ok
			}()
		}
		won := 0
		for range n {
			if err := <-errs; err != nil {
				t.Error(err)
			}
			if <-wins {
				won++
			}
		}
		return won
	}
	if won := race(nil, 0); won != 1 {
		t.Fatalf("%d of %d claims of an absent token won, want 1", won, n)
	}
	prev, err := b.ClientToken(ctx, acct, "race")
	if err != nil {
		t.Fatal(err)
	}
	if won := race(prev, 100); won != 1 {
		t.Fatalf("%d of %d claims over the same record won, want 1", won, n)
	}
}
