// Package storetest is the conformance suite every store.Store
// implementation runs, so SQLite and PostgreSQL behave the same.
package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/store"
)

// Run runs the suite; open returns a fresh, empty store for each subtest.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("Projects", func(t *testing.T) { testProjects(t, open(t)) })
	t.Run("Tags", func(t *testing.T) { testTags(t, open(t)) })
	t.Run("Policies", func(t *testing.T) { testPolicies(t, open(t)) })
	t.Run("Datasets", func(t *testing.T) { testDatasets(t, open(t)) })
	t.Run("DatasetLists", func(t *testing.T) { testDatasetLists(t, open(t)) })
	t.Run("Versions", func(t *testing.T) { testVersions(t, open(t)) })
	t.Run("Lookout", func(t *testing.T) { testLookout(t, open(t)) })
	t.Run("Hosting", func(t *testing.T) { testHosting(t, open(t)) })
}

func testDatasets(t *testing.T, s store.Store) {
	ctx := context.Background()
	p := project("111111111111", "p", 1000)
	if err := s.CreateProject(ctx, p); err != nil {
		t.Fatal(err)
	}
	mk := func(typ ocellus.DatasetType, ms int64) *ocellus.Dataset {
		return &ocellus.Dataset{ARN: ocellus.DatasetARN(p, typ, time.UnixMilli(ms)), ProjectARN: p.ARN, Account: p.Account, Type: typ,
			Status: ocellus.DatasetCreateInProgress, Source: ocellus.DatasetSource{ManifestBucket: "b", ManifestKey: "k"},
			Created: time.UnixMilli(ms).UTC(), Updated: time.UnixMilli(ms).UTC()}
	}
	train, test := mk(ocellus.DatasetTrain, 2000), mk(ocellus.DatasetTest, 2001)
	for _, d := range []*ocellus.Dataset{train, test} {
		if err := s.CreateDataset(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	wantKind(t, s.CreateDataset(ctx, mk(ocellus.DatasetTrain, 3000)), ocellus.AlreadyExists)
	if ds, _ := s.DatasetsInProgress(ctx); len(ds) != 2 {
		t.Fatalf("in progress = %d", len(ds))
	}
	entry := func(ref string, labels ...string) *ocellus.DatasetEntry {
		e := &ocellus.DatasetEntry{SourceRef: ref, Line: `{"source-ref":"` + ref + `"}`, Labeled: len(labels) > 0}
		for _, l := range labels {
			e.Labels = append(e.Labels, ocellus.EntryLabel{Name: l, Boxes: len(l) % 2})
		}
		return e
	}
	var batch []*ocellus.DatasetEntry
	for i := 0; i < 10; i++ {
		batch = append(batch, entry(fmt.Sprintf("s3://b/%d.jpg", i), []string{"cat", "dog"}[i%2]))
	}
	batch = append(batch, &ocellus.DatasetEntry{SourceRef: "s3://b/err.jpg", Line: "{}", HasErrors: true})
	if err := s.PutEntries(ctx, train.ARN, batch); err != nil {
		t.Fatal(err)
	}
	// Replacing a line keeps one entry per source-ref.
	if err := s.PutEntries(ctx, train.ARN, []*ocellus.DatasetEntry{entry("s3://b/0.jpg", "bird", "cat")}); err != nil {
		t.Fatal(err)
	}
	st, err := s.EntryStats(ctx, train.ARN)
	if err != nil || st != (ocellus.DatasetStats{LabeledEntries: 10, TotalEntries: 11, TotalLabels: 3, ErrorEntries: 1}) {
		t.Fatalf("stats = %+v, %v", st, err)
	}
	ls, _ := s.LabelStats(ctx, train.ARN, "", 0)
	if len(ls) != 3 || ls[0].Name != "bird" || ls[1] != (ocellus.LabelStats{Name: "cat", EntryCount: 5, BoundingBoxCount: 5}) {
		t.Fatalf("label stats = %+v", ls)
	}
	page, next, err := s.ListEntries(ctx, store.EntryFilter{DatasetARN: train.ARN, Limit: 4})
	if err != nil || len(page) != 4 || next == "" || page[0].SourceRef != "s3://b/0.jpg" {
		t.Fatalf("page = %d entries, next %q, %v", len(page), next, err)
	}
	rest, next2, _ := s.ListEntries(ctx, store.EntryFilter{DatasetARN: train.ARN, After: next, Limit: 100})
	if len(rest) != 7 || next2 != "" {
		t.Fatalf("rest = %d, next %q", len(rest), next2)
	}
	yes := true
	dogs, _, _ := s.ListEntries(ctx, store.EntryFilter{DatasetARN: train.ARN, ContainsLabels: []string{"dog"}, Labeled: &yes})
	errs, _, _ := s.ListEntries(ctx, store.EntryFilter{DatasetARN: train.ARN, HasErrors: &yes})
	refs, _, _ := s.ListEntries(ctx, store.EntryFilter{DatasetARN: train.ARN, SourceRefContains: "err"})
	if len(dogs) != 5 || len(errs) != 1 || len(refs) != 1 {
		t.Fatalf("filters: dogs %d errs %d refs %d", len(dogs), len(errs), len(refs))
	}
	if err := s.MoveEntries(ctx, train.ARN, test.ARN, []string{"s3://b/1.jpg", "s3://b/3.jpg"}); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.EntryStats(ctx, test.ARN); st.TotalEntries != 2 || st.TotalLabels != 1 {
		t.Fatalf("moved stats = %+v", st)
	}
	train.Status, train.StatusMessage, train.Stats = ocellus.DatasetCreateComplete, "done", st
	if err := s.UpdateDataset(ctx, train); err != nil {
		t.Fatal(err)
	}
	got, err := s.Dataset(ctx, train.ARN)
	if err != nil || got.Status != ocellus.DatasetCreateComplete || got.Source.ManifestKey != "k" || got.StatusMessage != "done" {
		t.Fatalf("dataset = %+v, %v", got, err)
	}
	testDatasetUpdates(t, s, train, test)
	if err := s.DeleteDataset(ctx, test.ARN); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.EntryStats(ctx, test.ARN); st.TotalEntries != 0 {
		t.Fatalf("entries survived dataset deletion: %+v", st)
	}
	_, err = s.DatasetUpdateLines(ctx, test.ARN)
	wantKind(t, err, ocellus.NotFound) // the pending update went with its dataset
	// Deleting the project removes its datasets and their entries.
	if err := s.DeleteProject(ctx, p.ARN); err != nil {
		t.Fatal(err)
	}
	_, err = s.Dataset(ctx, train.ARN)
	wantKind(t, err, ocellus.NotFound)
	if st, _ := s.EntryStats(ctx, train.ARN); st.TotalEntries != 0 {
		t.Fatalf("entries survived project deletion: %+v", st)
	}
}

// testDatasetUpdates: an update's lines are stored with the dataset's
// status in one call, replaced by the next update, and removed by
// EndDatasetUpdate or with the dataset. It leaves test with lines stored.
func testDatasetUpdates(t *testing.T, s store.Store, train, test *ocellus.Dataset) {
	ctx := context.Background()
	_, err := s.DatasetUpdateLines(ctx, train.ARN)
	wantKind(t, err, ocellus.NotFound)
	if err := s.EndDatasetUpdate(ctx, train.ARN); err != nil {
		t.Fatalf("end without an update: %v", err)
	}
	u := *train
	u.Status, u.StatusMessage = ocellus.DatasetUpdateInProgress, "updating"
	if err := s.BeginDatasetUpdate(ctx, &u, []byte("first\n")); err != nil {
		t.Fatal(err)
	}
	if err := s.BeginDatasetUpdate(ctx, &u, []byte("{\"source-ref\":\"s3://b/x.jpg\"}\n")); err != nil {
		t.Fatal(err)
	}
	lines, err := s.DatasetUpdateLines(ctx, train.ARN)
	if err != nil || string(lines) != "{\"source-ref\":\"s3://b/x.jpg\"}\n" {
		t.Fatalf("lines = %q, %v", lines, err)
	}
	if got, _ := s.Dataset(ctx, train.ARN); got.Status != ocellus.DatasetUpdateInProgress || got.StatusMessage != "updating" {
		t.Fatalf("status not saved with the lines: %+v", got)
	}
	if err := s.EndDatasetUpdate(ctx, train.ARN); err != nil {
		t.Fatal(err)
	}
	_, err = s.DatasetUpdateLines(ctx, train.ARN)
	wantKind(t, err, ocellus.NotFound)
	if err := s.UpdateDataset(ctx, train); err != nil { // back as it was
		t.Fatal(err)
	}
	gone := *train
	gone.ARN += "-gone"
	wantKind(t, s.BeginDatasetUpdate(ctx, &gone, []byte("x")), ocellus.NotFound)
	if _, err := s.DatasetUpdateLines(ctx, gone.ARN); ocellus.KindOf(err) != ocellus.NotFound {
		t.Fatalf("lines stored for a missing dataset: %v", err)
	}
	tu := *test
	tu.Status = ocellus.DatasetUpdateInProgress
	if err := s.BeginDatasetUpdate(ctx, &tu, nil); err != nil {
		t.Fatal(err)
	}
	if lines, err := s.DatasetUpdateLines(ctx, test.ARN); err != nil || len(lines) != 0 {
		t.Fatalf("empty lines = %q, %v", lines, err)
	}
}

func project(account, name string, ms int64) *ocellus.Project {
	created := time.UnixMilli(ms).UTC()
	return &ocellus.Project{ARN: ocellus.ProjectARN("us-east-1", account, name, created), Account: account,
		Service: ocellus.Rekognition, Name: name, Feature: ocellus.FeatureCustomLabels, Status: ocellus.ProjectCreated, Created: created}
}

func wantKind(t *testing.T, err error, k ocellus.Kind) {
	t.Helper()
	if ocellus.KindOf(err) != k || err == nil {
		t.Fatalf("error = %v, want kind %v", err, k)
	}
}

func testProjects(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		if err := s.CreateProject(ctx, project("111111111111", fmt.Sprintf("p%d", i), int64(1000+i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateProject(ctx, project("222222222222", "p0", 1000)); err != nil {
		t.Fatalf("same name in another account: %v", err)
	}
	wantKind(t, s.CreateProject(ctx, project("111111111111", "p0", 5000)), ocellus.AlreadyExists)

	got, err := s.Project(ctx, project("111111111111", "p3", 1003).ARN)
	if err != nil || got.Name != "p3" || got.Created.UnixMilli() != 1003 || got.Status != ocellus.ProjectCreated {
		t.Fatalf("Project = %+v, %v", got, err)
	}
	_, err = s.Project(ctx, "arn:aws:rekognition:us-east-1:111111111111:project/nope/1")
	wantKind(t, err, ocellus.NotFound)

	page1, err := s.ListProjects(ctx, store.ProjectFilter{Account: "111111111111", Service: ocellus.Rekognition, Limit: 2})
	if err != nil || len(page1) != 2 || page1[0].Name != "p0" || page1[1].Name != "p1" {
		t.Fatalf("page1 = %v, %v", page1, err)
	}
	page2, err := s.ListProjects(ctx, store.ProjectFilter{Account: "111111111111", Service: ocellus.Rekognition, After: page1[1].ARN, Limit: 10})
	if err != nil || len(page2) != 3 || page2[0].Name != "p2" {
		t.Fatalf("page2 = %v, %v", page2, err)
	}
	named, err := s.ListProjects(ctx, store.ProjectFilter{Account: "111111111111", Service: ocellus.Rekognition, Names: []string{"p4", "p1", "zz"}})
	if err != nil || len(named) != 2 {
		t.Fatalf("by name = %v, %v", named, err)
	}
	other, err := s.ListProjects(ctx, store.ProjectFilter{Account: "222222222222", Service: ocellus.Rekognition})
	if err != nil || len(other) != 1 {
		t.Fatalf("other account = %v, %v", other, err)
	}
	none, err := s.ListProjects(ctx, store.ProjectFilter{Account: "111111111111", Service: ocellus.Rekognition, Features: []string{ocellus.FeatureContentModeration}})
	if err != nil || len(none) != 0 {
		t.Fatalf("by feature = %v, %v", none, err)
	}

	arn := page1[0].ARN
	if err := s.SetTags(ctx, arn, map[string]string{"a": "1"}, 10); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPolicy(ctx, &ocellus.Policy{ProjectARN: arn, Name: "x", RevisionID: "r1", Document: "{}"}, "", 5); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteProject(ctx, arn); err != nil {
		t.Fatal(err)
	}
	wantKind(t, s.DeleteProject(ctx, arn), ocellus.NotFound)
	if tags, _ := s.Tags(ctx, arn); len(tags) != 0 {
		t.Fatalf("tags survived project deletion: %v", tags)
	}
	if ps, _ := s.ListPolicies(ctx, arn, "", 0); len(ps) != 0 {
		t.Fatalf("policies survived project deletion: %v", ps)
	}
}

func testTags(t *testing.T, s store.Store) {
	ctx := context.Background()
	arn := "arn:aws:rekognition:us-east-1:111111111111:project/p/1"
	if err := s.SetTags(ctx, arn, map[string]string{"a": "1", "b": "2"}, 3); err != nil {
		t.Fatal(err)
	}
	if err := s.SetTags(ctx, arn, map[string]string{"a": "9"}, 3); err != nil {
		t.Fatal(err)
	}
	wantKind(t, s.SetTags(ctx, arn, map[string]string{"c": "3", "d": "4"}, 3), ocellus.QuotaExceeded)
	tags, err := s.Tags(ctx, arn)
	if err != nil || len(tags) != 2 || tags["a"] != "9" {
		t.Fatalf("tags after refused update = %v, %v (the refusal must change nothing)", tags, err)
	}
	if err := s.RemoveTags(ctx, arn, []string{"a", "missing"}); err != nil {
		t.Fatal(err)
	}
	if tags, _ := s.Tags(ctx, arn); len(tags) != 1 || tags["b"] != "2" {
		t.Fatalf("after remove = %v", tags)
	}
}

func testPolicies(t *testing.T, s store.Store) {
	ctx := context.Background()
	arn := "arn:aws:rekognition:us-east-1:111111111111:project/p/1"
	pol := func(name, rev string) *ocellus.Policy {
		return &ocellus.Policy{ProjectARN: arn, Name: name, RevisionID: rev, Document: `{"v":"` + rev + `"}`, Created: time.UnixMilli(5).UTC(), Updated: time.UnixMilli(5).UTC()}
	}
	if err := s.PutPolicy(ctx, pol("a", "r1"), "", 2); err != nil {
		t.Fatal(err)
	}
	wantKind(t, s.PutPolicy(ctx, pol("a", "r2"), "", 2), ocellus.AlreadyExists)
	wantKind(t, s.PutPolicy(ctx, pol("a", "r2"), "wrong", 2), ocellus.InvalidPolicyRevision)
	wantKind(t, s.PutPolicy(ctx, pol("new", "r2"), "r1", 2), ocellus.InvalidPolicyRevision)
	if err := s.PutPolicy(ctx, pol("a", "r2"), "r1", 2); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPolicy(ctx, pol("b", "r3"), "", 2); err != nil {
		t.Fatal(err)
	}
	wantKind(t, s.PutPolicy(ctx, pol("c", "r4"), "", 2), ocellus.QuotaExceeded)
	ps, err := s.ListPolicies(ctx, arn, "", 1)
	if err != nil || len(ps) != 1 || ps[0].Name != "a" || ps[0].RevisionID != "r2" || ps[0].Document != `{"v":"r2"}` {
		t.Fatalf("list = %+v, %v", ps, err)
	}
	ps, _ = s.ListPolicies(ctx, arn, "a", 5)
	if len(ps) != 1 || ps[0].Name != "b" {
		t.Fatalf("page 2 = %+v", ps)
	}
	wantKind(t, s.DeletePolicy(ctx, arn, "a", "r1"), ocellus.InvalidPolicyRevision)
	wantKind(t, s.DeletePolicy(ctx, arn, "zz", ""), ocellus.NotFound)
	if err := s.DeletePolicy(ctx, arn, "a", "r2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePolicy(ctx, arn, "b", ""); err != nil {
		t.Fatal(err)
	}
}
