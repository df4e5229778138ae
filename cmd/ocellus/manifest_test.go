package main

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"image/png"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	s3api "github.com/ocellus/ocellus/internal/api/s3"
	"github.com/ocellus/ocellus/internal/manifest"
	"github.com/ocellus/ocellus/internal/sigv4"
)

func jpegBytes(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 96, 80)), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// folderTree lays out labels cat (2 images) and dog (1), plus files that
// must be skipped: an image in the root, a text file, a hidden folder.
var folderTree = map[string]bool{
	"cat/1.jpg": true, "cat/2.png": false, "dog/3.jpeg": true, "more/dog/4.jpg": true, "root.jpg": false, "cat/notes.txt": false, ".cache/x.jpg": false,
}

// readManifest parses a written manifest and returns "label source-ref"
// strings, checking every line is valid.
func readManifest(t *testing.T, data []byte, opts manifest.Options) []string {
	t.Helper()
	var got []string
	s, err := manifest.Validate(context.Background(), bytes.NewReader(data), opts, func(e *manifest.Entry) error {
		if e.HasErrors() || len(e.Labels()) != 1 {
			t.Errorf("line %d: %s", e.Line, e.JSONLine())
		}
		got = append(got, e.Labels()[0]+" "+e.SourceRef)
		return nil
	})
	if err != nil || s.Failed() {
		t.Fatalf("%v %+v", err, s)
	}
	sort.Strings(got)
	return got
}

func TestManifestFromFoldersDisk(t *testing.T) {
	dir := t.TempDir()
	img := jpegBytes(t)
	for p := range folderTree {
		full := filepath.Join(dir, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		data := img
		if strings.HasSuffix(p, ".txt") {
			data = []byte("x")
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var pb bytes.Buffer
	png.Encode(&pb, image.NewGray(image.Rect(0, 0, 96, 80)))
	os.WriteFile(filepath.Join(dir, "cat/2.png"), pb.Bytes(), 0o644)

	out := filepath.Join(t.TempDir(), "m.manifest")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"manifest", "from-folders", "--dir", dir, "--out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	data, _ := os.ReadFile(out)
	got := readManifest(t, data, manifest.Options{ParseOptions: manifest.ParseOptions{AllowFilePaths: true}, Prober: manifest.FSProber{}, Training: true})
	want := []string{"cat " + filepath.Join(dir, "cat/1.jpg"), "cat " + filepath.Join(dir, "cat/2.png"), "dog " + filepath.Join(dir, "dog/3.jpeg"), "dog " + filepath.Join(dir, "more/dog/4.jpg")}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(stderr.String(), "4 images, 2 labels") {
		t.Errorf("stderr %q", stderr.String())
	}

	// With an S3 URI prefix, to stdout.
	stdout.Reset()
	if code := run(context.Background(), []string{"manifest", "from-folders", "--dir", dir, "--s3-uri-prefix", "s3://bkt/data/"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	got = readManifest(t, stdout.Bytes(), manifest.Options{})
	want = []string{"cat s3://bkt/data/cat/1.jpg", "cat s3://bkt/data/cat/2.png", "dog s3://bkt/data/dog/3.jpeg", "dog s3://bkt/data/more/dog/4.jpg"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got %v", got)
	}

	// The validate subcommand accepts it (with the images mirrored).
	os.MkdirAll(filepath.Join(dir, "mirror"), 0o755)
	os.Symlink(dir, filepath.Join(dir, "mirror", "bkt"))
	man := filepath.Join(t.TempDir(), "s3.manifest")
	os.WriteFile(man, bytes.ReplaceAll(stdout.Bytes(), []byte("s3://bkt/data/"), []byte("s3://bkt/")), 0o644)
	stdout.Reset()
	if code := run(context.Background(), []string{"manifest", "validate", "--training", "--images-root", filepath.Join(dir, "mirror"), man}, &stdout, &stderr); code != 0 {
		t.Fatalf("validate exit %d: %s %s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), `"valid_json_lines":4`) {
		t.Errorf("summary %s", stdout.String())
	}

	for _, args := range [][]string{{}, {"--dir", dir, "--bucket", "b"}, {"--bucket", "b", "--s3-uri-prefix", "s3://x"}} {
		if code := run(context.Background(), append([]string{"manifest", "from-folders"}, args...), &stdout, &stderr); code == 0 {
			t.Errorf("%v accepted", args)
		}
	}
}

// TestManifestFromFoldersS3 lists the embedded S3 endpoint, served on
// 127.0.0.1:0, with credentials from the environment.
func TestManifestFromFoldersS3(t *testing.T) {
	cred := sigv4.Credential{AccountID: "111111111111", AccessKeyID: "AKIDTEST", SecretAccessKey: "test-secret"}
	srv, err := s3api.New(s3api.Config{Dir: t.TempDir(), Verifier: &sigv4.Verifier{Lookup: func(id string) (sigv4.Credential, bool) {
		return cred, id == cred.AccessKeyID
	}}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	defer hs.Close()
	url := "http://" + ln.Addr().String()

	ctx := context.Background()
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(cred.AccessKeyID, cred.SecretAccessKey, "")})
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("photos")}); err != nil {
		t.Fatal(err)
	}
	img := jpegBytes(t)
	for _, k := range []string{"set/cat/1.jpg", "set/cat/2.jpg", "set/dog/3.png", "set/loose.jpg", "set/dog/readme.md", "other/cow/4.jpg"} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String(k), Body: bytes.NewReader(img)}); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("AWS_ACCESS_KEY_ID", cred.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", cred.SecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"manifest", "from-folders", "--bucket", "photos", "--prefix", "set", "--endpoint", url, "--region", "us-east-1"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	got := readManifest(t, stdout.Bytes(), manifest.Options{})
	want := []string{"cat s3://photos/set/cat/1.jpg", "cat s3://photos/set/cat/2.jpg", "dog s3://photos/set/dog/3.png"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got %v", got)
	}
}

// TestManifestFromVOC converts BCCD's authors' test split with an S3
// prefix: the two degenerate boxes are not in it, every line validates.
func TestManifestFromVOC(t *testing.T) {
	root := filepath.Join("..", "..", "..", "shared", "datasets", "bccd")
	if _, err := os.Stat(root); err != nil {
		t.Skip("../shared not present")
	}
	out := filepath.Join(t.TempDir(), "bccd.manifest")
	var stdout, stderr bytes.Buffer
	args := []string{"manifest", "from-voc", root, "--image-set", filepath.Join(root, "ImageSets", "Main", "trainval.txt"), "--s3-prefix", "s3://cells/bccd", "--out", out}
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	// BloodImage_00338 and _00343 are in trainval: each reported once.
	if n := strings.Count(stderr.String(), "ERROR_BOUNDING_BOX_TOO_SMALL"); n != 2 || !strings.Contains(stderr.String(), "292 images") {
		t.Fatalf("stderr: %s", stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil || !bytes.HasPrefix(b, []byte(`{"source-ref":"s3://cells/bccd/JPEGImages/BloodImage_`)) {
		t.Fatalf("manifest %.200s %v", b, err)
	}
	for _, bad := range [][]string{{"from-voc"}, {"from-voc", root, "--s3-prefix", "bucket/x"}, {"from-yolo", t.TempDir()}, {"from-mvtec", root, "--split", "val"}} {
		stderr.Reset()
		if code := run(context.Background(), append([]string{"manifest"}, bad...), &stdout, &stderr); code == 0 {
			t.Errorf("%v: exit 0", bad)
		}
	}
}
