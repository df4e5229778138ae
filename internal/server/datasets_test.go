package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rekognition"
	rtypes "github.com/aws/aws-sdk-go-v2/service/rekognition/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/server"
)

func jpegBytes(t testing.TB, w, h int, shade uint8) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{shade, uint8(x), uint8(y), 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 70}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func put(t testing.TB, c *s3.Client, bucket, key string, body []byte) {
	t.Helper()
	if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(body)}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// uploadImages puts n distinct JPEGs under prefix, 8 at a time.
func uploadImages(t testing.TB, c *s3.Client, bucket, prefix string, n int) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			put(t, c, bucket, fmt.Sprintf("%s/%04d.jpg", prefix, i), jpegBytes(t, 96, 80, uint8(i)))
		}(i)
	}
	wg.Wait()
}

func classLine(bucket, key, label string) string {
	return fmt.Sprintf(`{"source-ref":"s3://%s/%s","lbl":1,"lbl-metadata":{"class-name":%q,"confidence":1,"type":"groundtruth/image-classification","human-annotated":"yes","creation-date":"2020-04-15T20:17:23.433061","job-name":"labeling-job/x"}}`, bucket, key, label)
}

func waitDataset(t testing.TB, c *rekognition.Client, arn string) *rtypes.DatasetDescription {
	t.Helper()
	return e2e.Poll(t, 10*time.Minute, "dataset "+arn, func() (*rtypes.DatasetDescription, bool) {
		out, err := c.DescribeDataset(context.Background(), &rekognition.DescribeDatasetInput{DatasetArn: &arn})
		if err != nil {
			t.Fatal(err)
		}
		st := out.DatasetDescription.Status
		return out.DatasetDescription, st != rtypes.DatasetStatusCreateInProgress && st != rtypes.DatasetStatusUpdateInProgress
	})
}

func createProject(t testing.TB, c *rekognition.Client, name string) string {
	t.Helper()
	out, err := c.CreateProject(context.Background(), &rekognition.CreateProjectInput{ProjectName: &name})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.ProjectArn)
}

func createDataset(t testing.TB, c *rekognition.Client, project string, typ rtypes.DatasetType, bucket, key string) string {
	t.Helper()
	in := &rekognition.CreateDatasetInput{ProjectArn: &project, DatasetType: typ}
	if key != "" {
		in.DatasetSource = &rtypes.DatasetSource{GroundTruthManifest: &rtypes.GroundTruthManifest{S3Object: &rtypes.S3Object{Bucket: &bucket, Name: &key}}}
	}
	out, err := c.CreateDataset(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.DatasetArn)
}

func TestClassificationDatasetOf1000Images(t *testing.T) {
	ts := e2e.Start(t, server.Config{})
	ctx := context.Background()
	s, r := ts.S3(alice), ts.Rekognition(alice)
	if _, err := s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("imgs")}); err != nil {
		t.Fatal(err)
	}
	uploadImages(t, s, "imgs", "cls", 1000)
	labels := []string{"cat", "dog", "bird", "fish"}
	var m strings.Builder
	for i := 0; i < 1000; i++ {
		m.WriteString(classLine("imgs", fmt.Sprintf("cls/%04d.jpg", i), labels[i%4]) + "\n")
	}
	put(t, s, "imgs", "manifests/train.manifest", []byte(m.String()))
	project := createProject(t, r, "thousand")
	train := createDataset(t, r, project, rtypes.DatasetTypeTrain, "imgs", "manifests/train.manifest")
	d := waitDataset(t, r, train)
	if d.Status != rtypes.DatasetStatusCreateComplete || d.StatusMessageCode != rtypes.DatasetStatusMessageCodeSuccess {
		t.Fatalf("dataset = %s %s %s", d.Status, aws.ToString(d.StatusMessage), d.StatusMessageCode)
	}
	st := d.DatasetStats
	if aws.ToInt32(st.TotalEntries) != 1000 || aws.ToInt32(st.LabeledEntries) != 1000 || aws.ToInt32(st.TotalLabels) != 4 || aws.ToInt32(st.ErrorEntries) != 0 {
		t.Fatalf("stats = %+v", *st)
	}
	ls, err := r.ListDatasetLabels(ctx, &rekognition.ListDatasetLabelsInput{DatasetArn: &train})
	if err != nil || len(ls.DatasetLabelDescriptions) != 4 {
		t.Fatalf("labels = %+v, %v", ls, err)
	}
	for _, l := range ls.DatasetLabelDescriptions {
		if aws.ToInt32(l.LabelStats.EntryCount) != 250 || aws.ToInt32(l.LabelStats.BoundingBoxCount) != 0 {
			t.Fatalf("label %s stats %+v", aws.ToString(l.LabelName), *l.LabelStats)
		}
	}
	// Entries page through all 1000 lines, each with cl-metadata.
	n := 0
	p := rekognition.NewListDatasetEntriesPaginator(r, &rekognition.ListDatasetEntriesInput{DatasetArn: &train, MaxResults: aws.Int32(100)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.DatasetEntries {
			var line map[string]any
			if err := json.Unmarshal([]byte(e), &line); err != nil || line["cl-metadata"] == nil {
				t.Fatalf("entry %q: %v", e, err)
			}
			n++
		}
	}
	if n != 1000 {
		t.Fatalf("paged %d entries", n)
	}
	dogs, err := r.ListDatasetEntries(ctx, &rekognition.ListDatasetEntriesInput{DatasetArn: &train, ContainsLabels: []string{"dog"}, MaxResults: aws.Int32(100), SourceRefContains: aws.String("cls/00")})
	if err != nil || len(dogs.DatasetEntries) != 25 {
		t.Fatalf("dogs among cls/00xx = %d, %v", len(dogs.DatasetEntries), err)
	}
	// DescribeProjects lists the dataset.
	dp, _ := r.DescribeProjects(ctx, &rekognition.DescribeProjectsInput{ProjectNames: []string{"thousand"}})
	if len(dp.ProjectDescriptions[0].Datasets) != 1 || aws.ToString(dp.ProjectDescriptions[0].Datasets[0].DatasetArn) != train {
		t.Fatalf("project datasets = %+v", dp.ProjectDescriptions[0].Datasets)
	}

	// Distribute: 80/20 into an empty test dataset.
	test := createDataset(t, r, project, rtypes.DatasetTypeTest, "", "")
	if _, err := r.DistributeDatasetEntries(ctx, &rekognition.DistributeDatasetEntriesInput{Datasets: []rtypes.DistributeDataset{{Arn: &train}, {Arn: &test}}}); err != nil {
		t.Fatal(err)
	}
	tr, te := waitDataset(t, r, train), waitDataset(t, r, test)
	if aws.ToInt32(tr.DatasetStats.TotalEntries) != 800 || aws.ToInt32(te.DatasetStats.TotalEntries) != 200 {
		t.Fatalf("after distribute: train %d, test %d", aws.ToInt32(tr.DatasetStats.TotalEntries), aws.ToInt32(te.DatasetStats.TotalEntries))
	}
	_, err = r.DistributeDatasetEntries(ctx, &rekognition.DistributeDatasetEntriesInput{Datasets: []rtypes.DistributeDataset{{Arn: &train}, {Arn: &test}}})
	if errCode(err) != "InvalidParameterException" {
		t.Fatalf("second distribute into non-empty test: %v", err)
	}
	_, err = r.CreateDataset(ctx, &rekognition.CreateDatasetInput{ProjectArn: &project, DatasetType: rtypes.DatasetTypeTest})
	if errCode(err) != "ResourceAlreadyExistsException" {
		t.Fatalf("second TEST dataset: %v", err)
	}

	// Update: one new line, one replacing an existing source-ref with another label.
	upd := classLine("imgs", "cls/0999.jpg", "zebra") + "\n" + classLine("imgs", "cls/0998.jpg", "owl") + "\n"
	// 0998/0999 may have moved to test; update whichever dataset holds them is not the point: use train.
	if _, err := r.UpdateDatasetEntries(ctx, &rekognition.UpdateDatasetEntriesInput{DatasetArn: &train, Changes: &rtypes.DatasetChanges{GroundTruth: []byte(upd)}}); err != nil {
		t.Fatal(err)
	}
	tr = waitDataset(t, r, train)
	if tr.Status != rtypes.DatasetStatusUpdateComplete {
		t.Fatalf("after update: %s %s", tr.Status, aws.ToString(tr.StatusMessage))
	}
	z, _ := r.ListDatasetEntries(ctx, &rekognition.ListDatasetEntriesInput{DatasetArn: &train, ContainsLabels: []string{"zebra", "owl"}})
	if len(z.DatasetEntries) != 2 {
		t.Fatalf("updated entries = %v", z.DatasetEntries)
	}

	if _, err := r.DeleteDataset(ctx, &rekognition.DeleteDatasetInput{DatasetArn: &test}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.DescribeDataset(ctx, &rekognition.DescribeDatasetInput{DatasetArn: &test}); errCode(err) != "ResourceNotFoundException" {
		t.Fatalf("deleted dataset: %v", err)
	}
	if _, err := r.DescribeDataset(ctx, &rekognition.DescribeDatasetInput{DatasetArn: &train}); err != nil {
		t.Fatalf("bob... no, alice's own train dataset: %v", err)
	}
	if _, err := ts.Rekognition(bob).DescribeDataset(ctx, &rekognition.DescribeDatasetInput{DatasetArn: &train}); errCode(err) != "AccessDeniedException" {
		t.Fatalf("bob describing alice's dataset: %v", err)
	}
}

func TestMultiLabelAndDetectionDatasets(t *testing.T) {
	ts := e2e.Start(t, server.Config{})
	ctx := context.Background()
	s, r := ts.S3(alice), ts.Rekognition(alice)
	s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("imgs")})
	uploadImages(t, s, "imgs", "x", 6)
	multi := `{"source-ref":"s3://imgs/x/0000.jpg","a":1,"a-metadata":{"class-name":"red","type":"groundtruth/image-classification"},"b":1,"b-metadata":{"class-name":"round","type":"groundtruth/image-classification"}}
{"source-ref":"s3://imgs/x/0001.jpg","a":1,"a-metadata":{"class-name":"red","type":"groundtruth/image-classification"}}
{"source-ref":"s3://imgs/x/0002.jpg","b":1,"b-metadata":{"class-name":"round","type":"groundtruth/image-classification"}}
`
	put(t, s, "imgs", "multi.manifest", []byte(multi))
	det := `{"source-ref":"s3://imgs/x/0003.jpg","bounding-box":{"image_size":[{"width":96,"height":80,"depth":3}],"annotations":[{"class_id":0,"top":10,"left":10,"width":30,"height":20},{"class_id":1,"top":40,"left":50,"width":20,"height":20},{"class_id":0,"top":5,"left":60,"width":20,"height":15}]},"bounding-box-metadata":{"objects":[{"confidence":1},{"confidence":1},{"confidence":1}],"class-map":{"0":"cookie","1":"crumb"},"type":"groundtruth/object-detection","human-annotated":"yes","creation-date":"2013-11-18T02:53:27","job-name":"j"}}
{"source-ref":"s3://imgs/x/0004.jpg","bounding-box":{"image_size":[{"width":96,"height":80,"depth":3}],"annotations":[{"class_id":0,"top":1,"left":1,"width":40,"height":40}]},"bounding-box-metadata":{"objects":[{"confidence":1}],"class-map":{"0":"cookie"},"type":"groundtruth/object-detection","human-annotated":"yes","creation-date":"2013-11-18T02:53:27","job-name":"j"}}
`
	put(t, s, "imgs", "det.manifest", []byte(det))
	p1 := createProject(t, r, "multi")
	d := waitDataset(t, r, createDataset(t, r, p1, rtypes.DatasetTypeTrain, "imgs", "multi.manifest"))
	if d.Status != rtypes.DatasetStatusCreateComplete || aws.ToInt32(d.DatasetStats.TotalEntries) != 3 || aws.ToInt32(d.DatasetStats.TotalLabels) != 2 {
		t.Fatalf("multi-label: %s %s %+v", d.Status, aws.ToString(d.StatusMessage), *d.DatasetStats)
	}
	p2 := createProject(t, r, "detect")
	darn := createDataset(t, r, p2, rtypes.DatasetTypeTrain, "imgs", "det.manifest")
	d = waitDataset(t, r, darn)
	if d.Status != rtypes.DatasetStatusCreateComplete || aws.ToInt32(d.DatasetStats.TotalEntries) != 2 || aws.ToInt32(d.DatasetStats.TotalLabels) != 2 {
		t.Fatalf("detection: %s %s %+v", d.Status, aws.ToString(d.StatusMessage), *d.DatasetStats)
	}
	ls, _ := r.ListDatasetLabels(ctx, &rekognition.ListDatasetLabelsInput{DatasetArn: &darn})
	got := map[string][2]int32{}
	for _, l := range ls.DatasetLabelDescriptions {
		got[aws.ToString(l.LabelName)] = [2]int32{aws.ToInt32(l.LabelStats.EntryCount), aws.ToInt32(l.LabelStats.BoundingBoxCount)}
	}
	if got["cookie"] != [2]int32{2, 2} || got["crumb"] != [2]int32{1, 1} {
		t.Fatalf("detection label stats = %v", got)
	}
}

func TestManifestErrors(t *testing.T) {
	ts := e2e.Start(t, server.Config{})
	ctx := context.Background()
	s, r := ts.S3(alice), ts.Rekognition(alice)
	s.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("imgs")})
	uploadImages(t, s, "imgs", "ok", 40)
	put(t, s, "imgs", "empty.jpg", nil)
	var good []string
	for i := 0; i < 40; i++ {
		good = append(good, classLine("imgs", fmt.Sprintf("ok/%04d.jpg", i), []string{"a", "b"}[i%2]))
	}
	detLine := func(key, size, box string) string {
		return `{"source-ref":"s3://imgs/` + key + `","bb":{"image_size":[{` + size + `,"depth":3}],"annotations":[{"class_id":0,` + box + `}]},"bb-metadata":{"objects":[{"confidence":1}],"class-map":{"0":"a"},"type":"groundtruth/object-detection"}}`
	}
	bad := map[string]string{
		"ERROR_INVALID_IMAGE":                           classLine("imgs", "empty.jpg", "a"),
		"ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT":          strings.Replace(classLine("imgs", "ok/0002.jpg", "a"), `"lbl":1`, `"lbl":"a"`, 1),
		"ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT": strings.Replace(classLine("imgs", "ok/0003.jpg", "a"), `"class-name":"a",`, ``, 1),
		"ERROR_INVALID_IMAGE_DIMENSION":                 detLine("ok/0004.jpg", `"width":800,"height":80`, `"top":1,"left":1,"width":20,"height":20`),
		"ERROR_INVALID_BOUNDING_BOX":                    detLine("ok/0005.jpg", `"width":96,"height":80`, `"top":1,"left":500,"width":20,"height":20`),
	}
	// Lines replacing ok/0002..0005 come after the good ones; use distinct
	// images for the good lines so nothing is a duplicate.
	good = good[6:]
	lines := append([]string{}, good...)
	for _, l := range bad {
		lines = append(lines, l)
	}
	put(t, s, "imgs", "mixed.manifest", []byte(strings.Join(lines, "\n")+"\n"))
	project := createProject(t, r, "errors")
	arn := createDataset(t, r, project, rtypes.DatasetTypeTrain, "imgs", "mixed.manifest")
	d := waitDataset(t, r, arn)
	if d.Status != rtypes.DatasetStatusCreateComplete {
		t.Fatalf("mixed manifest: %s %s", d.Status, aws.ToString(d.StatusMessage))
	}
	withErrors, err := r.ListDatasetEntries(ctx, &rekognition.ListDatasetEntriesInput{DatasetArn: &arn, HasErrors: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, e := range withErrors.DatasetEntries {
		for code := range bad {
			if strings.Contains(e, code) {
				found[code] = true
			}
		}
	}
	for code := range bad {
		if !found[code] {
			t.Errorf("code %s not reported in entries with errors: %v", code, withErrors.DatasetEntries)
		}
	}
	if aws.ToInt32(d.DatasetStats.ErrorEntries) != int32(len(withErrors.DatasetEntries)) || len(withErrors.DatasetEntries) == 0 {
		t.Fatalf("ErrorEntries %d vs %d listed", aws.ToInt32(d.DatasetStats.ErrorEntries), len(withErrors.DatasetEntries))
	}
	// A dataset copied from this one keeps every entry's errors, including
	// those found by probing the images (the copy does not probe again).
	cp, err := r.CreateDataset(ctx, &rekognition.CreateDatasetInput{ProjectArn: aws.String(createProject(t, r, "errors-copy")),
		DatasetType: rtypes.DatasetTypeTrain, DatasetSource: &rtypes.DatasetSource{DatasetArn: &arn}})
	if err != nil {
		t.Fatal(err)
	}
	cd := waitDataset(t, r, aws.ToString(cp.DatasetArn))
	copied, err := r.ListDatasetEntries(ctx, &rekognition.ListDatasetEntriesInput{DatasetArn: cp.DatasetArn, HasErrors: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if cd.Status != rtypes.DatasetStatusCreateComplete || aws.ToInt32(cd.DatasetStats.ErrorEntries) != aws.ToInt32(d.DatasetStats.ErrorEntries) ||
		!slices.Equal(copied.DatasetEntries, withErrors.DatasetEntries) {
		t.Fatalf("copied dataset: %s, %d error entries (source %d): %v", cd.Status, aws.ToInt32(cd.DatasetStats.ErrorEntries),
			aws.ToInt32(d.DatasetStats.ErrorEntries), copied.DatasetEntries)
	}

	// More than 20% invalid lines fails the dataset with the terminal code.
	var mostlyBad []string
	for i := 0; i < 10; i++ {
		mostlyBad = append(mostlyBad, good[i], `{"not-a-manifest-line": true}`, `not json`)
	}
	put(t, s, "imgs", "bad.manifest", []byte(strings.Join(mostlyBad, "\n")+"\n"))
	p2 := createProject(t, r, "bad")
	arn2 := createDataset(t, r, p2, rtypes.DatasetTypeTrain, "imgs", "bad.manifest")
	d = waitDataset(t, r, arn2)
	if d.Status != rtypes.DatasetStatusCreateFailed || d.StatusMessageCode != rtypes.DatasetStatusMessageCodeClientError ||
		!strings.Contains(aws.ToString(d.StatusMessage), "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST") {
		t.Fatalf("mostly bad manifest: %s %s %s", d.Status, d.StatusMessageCode, aws.ToString(d.StatusMessage))
	}
	if _, err := r.ListDatasetEntries(ctx, &rekognition.ListDatasetEntriesInput{DatasetArn: &arn2}); errCode(err) != "ResourceNotReadyException" {
		t.Fatalf("entries of a failed dataset: %v", err)
	}

	// A missing manifest object is refused at once.
	p3 := createProject(t, r, "missing")
	_, err = r.CreateDataset(ctx, &rekognition.CreateDatasetInput{ProjectArn: &p3, DatasetType: rtypes.DatasetTypeTrain,
		DatasetSource: &rtypes.DatasetSource{GroundTruthManifest: &rtypes.GroundTruthManifest{S3Object: &rtypes.S3Object{Bucket: aws.String("imgs"), Name: aws.String("nope.manifest")}}}})
	if errCode(err) != "InvalidS3ObjectException" {
		t.Fatalf("missing manifest: %v", err)
	}
	// Bob cannot build a dataset from alice's bucket.
	pb := createProject(t, ts.Rekognition(bob), "bobs")
	_, err = ts.Rekognition(bob).CreateDataset(ctx, &rekognition.CreateDatasetInput{ProjectArn: &pb, DatasetType: rtypes.DatasetTypeTrain,
		DatasetSource: &rtypes.DatasetSource{GroundTruthManifest: &rtypes.GroundTruthManifest{S3Object: &rtypes.S3Object{Bucket: aws.String("imgs"), Name: aws.String("mixed.manifest")}}}})
	if errCode(err) != "InvalidS3ObjectException" {
		t.Fatalf("bob reading alice's manifest: %v", err)
	}
	// A failed update leaves the entries as they were.
	before := waitDataset(t, r, arn).DatasetStats
	if _, err := r.UpdateDatasetEntries(ctx, &rekognition.UpdateDatasetEntriesInput{DatasetArn: &arn, Changes: &rtypes.DatasetChanges{GroundTruth: []byte("not json\nnot json either\n")}}); err != nil {
		t.Fatal(err)
	}
	after := waitDataset(t, r, arn)
	if after.Status != rtypes.DatasetStatusUpdateFailed || aws.ToInt32(after.DatasetStats.TotalEntries) != aws.ToInt32(before.TotalEntries) {
		t.Fatalf("failed update: %s %s, entries %d -> %d", after.Status, aws.ToString(after.StatusMessage), aws.ToInt32(before.TotalEntries), aws.ToInt32(after.DatasetStats.TotalEntries))
	}
}
