package lookoutvision

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocellus/ocellus/internal/apimodel"
	"github.com/ocellus/ocellus/internal/awsproto"
	"github.com/ocellus/ocellus/internal/blob"
	"github.com/ocellus/ocellus/internal/control"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/store/sqlite"
)

// FuzzHandle feeds arbitrary restJson1 requests (method, escaped path with
// query, body) through the real route -> decode -> validate -> control ->
// SQLite path, after authentication. Whatever the input, the answer is a
// result or a client error, never a panic or an internal error. S3 is an
// endpoint the account has no credentials for, so reads fail as the
// caller's problem.
func FuzzHandle(f *testing.F) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	blobs := blob.New(blob.Config{Handler: http.NotFoundHandler(), Region: "us-east-1",
		Credentials: func(string) (string, string, bool) { return "", "", false }})
	ctl := control.New(st, blobs, control.Config{DataDir: f.TempDir()})
	ctl.UseQueue(storedQueue{}) // the jobs are not run: these tests cover the request path
	f.Cleanup(func() { ctl.Close() })
	l := control.NewLookout(ctl, control.LookoutConfig{})
	f.Cleanup(func() { l.Close() })
	a := New(l, nil, Config{Region: "us-east-1"})
	id := awsproto.Identity{Account: "111111111111", Region: "us-east-1"}
	if _, err := l.CreateLookoutProject(ctx, id.Account, "p"); err != nil {
		f.Fatal(err)
	}
	arn := "arn%3Aaws%3Alookoutvision%3Aus-east-1%3A111111111111%3Aproject%2Fp"
	seeds := []struct{ method, path, body string }{
		{"POST", "/2020-11-20/projects", `{"ProjectName":"q"}`},
		{"GET", "/2020-11-20/projects?maxResults=2&nextToken=abc", ``},
		{"DELETE", "/2020-11-20/projects/p", ``},
		{"POST", "/2020-11-20/projects/p/datasets", `{"DatasetType":"train","DatasetSource":{"GroundTruthManifest":{"S3Object":{"Bucket":"bkt","Key":"k"}}}}`},
		{"POST", "/2020-11-20/projects/p/datasets", `{"DatasetType":"test","DatasetSource":{}}`},
		{"GET", "/2020-11-20/projects/p/datasets/train/entries?labeled=true&anomalyClass=normal&createdBefore=2020-01-01T00:00:00Z", ``},
		{"PATCH", "/2020-11-20/projects/p/datasets/train/entries", `{"Changes":"eyJzb3VyY2UtcmVmIjoiczM6Ly9iL2EuanBnIn0="}`},
		{"POST", "/2020-11-20/projects/p/models", `{"OutputConfig":{"S3Location":{"Bucket":"out"}},"Tags":[{"Key":"k","Value":"v"}]}`},
		{"GET", "/2020-11-20/projects/p/models/latest", ``},
		{"POST", "/2020-11-20/projects/p/models/1/start", `{"MinInferenceUnits":1,"MaxInferenceUnits":3}`},
		{"POST", "/2020-11-20/projects/p/models/1/detect", `not an image`},
		{"POST", "/2020-11-20/projects/p/modelpackagingjobs", `{"ModelVersion":"1","Configuration":{"Greengrass":{"ComponentName":"c","S3OutputLocation":{"Bucket":"b"}}}}`},
		{"POST", "/2020-11-20/tags/" + arn, `{"Tags":[{"Key":"a","Value":"b"}]}`},
		{"DELETE", "/2020-11-20/tags/" + arn + "?tagKeys=a&tagKeys=b", ``},
		{"GET", "/2020-11-20/tags/" + arn, ``},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, method, target string, body []byte) {
		if !strings.HasPrefix(target, "/") {
			return
		}
		r, err := http.NewRequest(method, "http://localhost"+target, strings.NewReader(string(body)))
		if err != nil {
			return
		}
		r.Header.Set("Content-Type", "image/png")
		o, labels, ok := apimodel.LookoutVision.Match(r.Method, r.URL.EscapedPath())
		if !ok {
			return
		}
		in, err := apimodel.LookoutVision.DecodeRest(o, r, labels)
		c := a.call(o, in)
		if err == nil {
			_, err = a.fe.Handle(ctx, id, c)
		}
		if err == nil {
			return
		}
		var ve *apimodel.ValidationError
		if !errors.As(err, &ve) && ocellus.KindOf(err) == ocellus.Internal {
			t.Fatalf("%s %s %q: internal error %v", method, target, body, err)
		}
		w := httptest.NewRecorder()
		a.fe.WriteError(w, "req", c, err)
		if w.Code >= 500 {
			t.Fatalf("%s %s: status %d", method, target, w.Code)
		}
	})
}
