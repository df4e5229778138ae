package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/store"
)

func testVersions(t *testing.T, s store.Store) {
	ctx := context.Background()
	p := project("111111111111", "p", 1000)
	q := project("111111111111", "q", 1001)
	for _, x := range []*ocellus.Project{p, q} {
		if err := s.CreateProject(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(pr *ocellus.Project, name string, ms int64, st ocellus.VersionStatus) *ocellus.ProjectVersion {
		c := time.UnixMilli(ms).UTC()
		return &ocellus.ProjectVersion{ARN: ocellus.VersionARN(pr, name, c), ProjectARN: pr.ARN, Account: pr.Account, Name: name, Status: st, Created: c}
	}
	v1 := mk(p, "v1", 2000, ocellus.VersionTrainingInProgress)
	v2 := mk(p, "v2", 3000, ocellus.VersionRunning)
	v3 := mk(p, "v3", 4000, ocellus.VersionCopyingInProgress)
	w1 := mk(q, "v1", 2500, ocellus.VersionTrainingInProgress) // same name, other project
	for _, v := range []*ocellus.ProjectVersion{v1, v2, v3, w1} {
		if err := s.CreateVersion(ctx, v); err != nil {
			t.Fatalf("CreateVersion %s: %v", v.ARN, err)
		}
	}
	wantKind(t, s.CreateVersion(ctx, mk(p, "v1", 9000, ocellus.VersionTrainingInProgress)), ocellus.AlreadyExists)

	// Every field round-trips.
	f1 := 0.875
	v1.Description, v1.StatusMessage = "first", "The model is being trained."
	v1.TrainingEnd = time.UnixMilli(2500).UTC()
	v1.BillableSeconds = 42
	v1.OutputBucket, v1.OutputPrefix, v1.KmsKeyID = "out", "models/", "alias/mine"
	v1.MinUnits, v1.MaxUnits = 1, 3
	v1.SourceVersionARN = w1.ARN
	v1.Training = ocellus.DataResult{Input: []ocellus.S3Location{{Bucket: "b", Key: "train.manifest", Version: "7"}}, Output: []ocellus.S3Location{{Bucket: "out", Key: "t.out"}}, AutoCreate: true}
	v1.Testing = ocellus.DataResult{Validation: []ocellus.S3Location{{Bucket: "out", Key: "v.json"}}}
	v1.F1 = &f1
	v1.EvaluationResult = &ocellus.S3Location{Bucket: "out", Key: "eval.json"}
	v1.ManifestSummary = &ocellus.S3Location{Bucket: "out", Key: "summary.json"}
	v1.Artifact, v1.Kind = "models/abc.ocellus-model", "detection"
	threshold := 62.5
	v1.Feature, v1.ConfidenceThreshold, v1.BaseModelVersion = ocellus.FeatureContentModeration, &threshold, "ocellus-nsfwjs-4.4.0"
	v1.Status = ocellus.VersionTrainingCompleted
	if err := s.UpdateVersion(ctx, v1); err != nil {
		t.Fatal(err)
	}
	got, err := s.Version(ctx, v1.ARN)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, v1) {
		t.Fatalf("Version after UpdateVersion =\n%+v\nwant\n%+v", got, v1)
	}
	_, err = s.Version(ctx, v1.ARN+"0")
	wantKind(t, err, ocellus.NotFound)
	wantKind(t, s.UpdateVersion(ctx, mk(p, "nope", 5000, ocellus.VersionRunning)), ocellus.NotFound)

	// Versions: newest first, one project only, optionally by name.
	all, err := s.Versions(ctx, p.ARN, nil)
	if err != nil || names(all) != "v3,v2,v1" {
		t.Fatalf("Versions = %s, %v; want v3,v2,v1", names(all), err)
	}
	named, err := s.Versions(ctx, p.ARN, []string{"v1", "v3", "zz"})
	if err != nil || names(named) != "v3,v1" {
		t.Fatalf("Versions by name = %s, %v; want v3,v1", names(named), err)
	}

	// VersionsInState spans projects.
	inProgress, err := s.VersionsInState(ctx, ocellus.VersionTrainingInProgress, ocellus.VersionCopyingInProgress)
	if err != nil {
		t.Fatal(err)
	}
	arns := map[string]bool{}
	for _, v := range inProgress {
		arns[v.ARN] = true
	}
	if len(inProgress) != 2 || !arns[v3.ARN] || !arns[w1.ARN] {
		t.Fatalf("VersionsInState = %s, want %s and %s", names(inProgress), v3.ARN, w1.ARN)
	}
	if none, err := s.VersionsInState(ctx, ocellus.VersionStopping); err != nil || len(none) != 0 {
		t.Fatalf("VersionsInState(STOPPING) = %s, %v", names(none), err)
	}

	if err := s.DeleteVersion(ctx, v2.ARN); err != nil {
		t.Fatal(err)
	}
	_, err = s.Version(ctx, v2.ARN)
	wantKind(t, err, ocellus.NotFound)
	if left, _ := s.Versions(ctx, p.ARN, nil); names(left) != "v3,v1" {
		t.Fatalf("after DeleteVersion: %s", names(left))
	}
	// A deleted name can be used again.
	if err := s.CreateVersion(ctx, mk(p, "v2", 6000, ocellus.VersionTrainingInProgress)); err != nil {
		t.Fatalf("re-create a deleted version name: %v", err)
	}
}

func names(vs []*ocellus.ProjectVersion) string {
	s := ""
	for i, v := range vs {
		if i > 0 {
			s += ","
		}
		s += v.Name
	}
	return s
}

// testDatasetLists covers listing datasets per project and clearing
// entries.
func testDatasetLists(t *testing.T, s store.Store) {
	ctx := context.Background()
	p := project("111111111111", "p", 1000)
	q := project("111111111111", "q", 1001)
	r := project("111111111111", "r", 1002) // no datasets
	for _, x := range []*ocellus.Project{p, q, r} {
		if err := s.CreateProject(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(pr *ocellus.Project, typ ocellus.DatasetType, ms int64) *ocellus.Dataset {
		c := time.UnixMilli(ms).UTC()
		return &ocellus.Dataset{ARN: ocellus.DatasetARN(pr, typ, c), ProjectARN: pr.ARN, Account: pr.Account, Type: typ,
			Status: ocellus.DatasetCreateComplete, Created: c, Updated: c}
	}
	pTrain, pTest, qTrain := mk(p, ocellus.DatasetTrain, 2000), mk(p, ocellus.DatasetTest, 2001), mk(q, ocellus.DatasetTrain, 2002)
	for _, d := range []*ocellus.Dataset{pTrain, pTest, qTrain} {
		if err := s.CreateDataset(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := s.Datasets(ctx, p.ARN)
	if err != nil || len(ds) != 2 {
		t.Fatalf("Datasets(p) = %d, %v; want 2", len(ds), err)
	}
	types := map[ocellus.DatasetType]string{}
	for _, d := range ds {
		types[d.Type] = d.ARN
	}
	if types[ocellus.DatasetTrain] != pTrain.ARN || types[ocellus.DatasetTest] != pTest.ARN {
		t.Fatalf("Datasets(p) = %v", types)
	}
	if ds, err := s.Datasets(ctx, r.ARN); err != nil || len(ds) != 0 {
		t.Fatalf("Datasets(r) = %d, %v; want none", len(ds), err)
	}
	by, err := s.DatasetsOf(ctx, []string{p.ARN, q.ARN, r.ARN})
	if err != nil || len(by[p.ARN]) != 2 || len(by[q.ARN]) != 1 || len(by[r.ARN]) != 0 || by[q.ARN][0].ARN != qTrain.ARN {
		t.Fatalf("DatasetsOf = %v, %v", by, err)
	}
	if by, err := s.DatasetsOf(ctx, nil); err != nil || len(by) != 0 {
		t.Fatalf("DatasetsOf(nil) = %v, %v", by, err)
	}

	var batch []*ocellus.DatasetEntry
	for _, ref := range []string{"s3://b/1.jpg", "s3://b/2.jpg", "s3://b/3.jpg"} {
		batch = append(batch, &ocellus.DatasetEntry{SourceRef: ref, Line: `{"source-ref":"` + ref + `"}`})
	}
	for _, d := range []*ocellus.Dataset{pTrain, qTrain} {
		if err := s.PutEntries(ctx, d.ARN, batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ClearEntries(ctx, pTrain.ARN); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.EntryStats(ctx, pTrain.ARN); st.TotalEntries != 0 {
		t.Fatalf("ClearEntries left %d entries", st.TotalEntries)
	}
	if st, _ := s.EntryStats(ctx, qTrain.ARN); st.TotalEntries != 3 {
		t.Fatalf("ClearEntries of one dataset touched another: %d entries left of 3", st.TotalEntries)
	}
	if _, err := s.Dataset(ctx, pTrain.ARN); err != nil {
		t.Fatalf("ClearEntries removed the dataset: %v", err)
	}
}
