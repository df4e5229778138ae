package rekognition

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/ocellus/ocellus/internal/apimodel"
	"github.com/ocellus/ocellus/internal/awsproto"
	"github.com/ocellus/ocellus/internal/control"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/store/sqlite"
)

// FuzzHandle feeds arbitrary awsJson1.1 bodies to every operation through
// the real decode -> validate -> control -> SQLite path. Whatever the input,
// the answer is a result or a client error, never a panic or an internal
// error.
func FuzzHandle(f *testing.F) {
	st, err := sqlite.Open(context.Background(), filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	ctl := control.New(st, nil, control.Config{DataDir: f.TempDir()})
	ctl.UseQueue(storedQueue{}) // the jobs are not run: the fuzz covers the request path
	a := New(ctl, nil, Config{Region: "us-east-1"})
	id := awsproto.Identity{Account: "111111111111", Region: "us-east-1"}
	arn := "arn:aws:rekognition:us-east-1:111111111111:project/p/1700000000000"
	seeds := []struct{ op, body string }{
		{"CreateProject", `{"ProjectName":"p","Tags":{"a":"b"}}`},
		{"CreateProject", `{"ProjectName":"x","Feature":"CONTENT_MODERATION","AutoUpdate":"ENABLED"}`},
		{"DescribeProjects", `{"MaxResults":5,"ProjectNames":["p"],"NextToken":"eyJsIjoicHJvamVjdHMiLCJhIjoieCJ9"}`},
		{"DeleteProject", `{"ProjectArn":"` + arn + `"}`},
		{"TagResource", `{"ResourceArn":"` + arn + `","Tags":{"k":"v"}}`},
		{"PutProjectPolicy", `{"ProjectArn":"` + arn + `","PolicyName":"n","PolicyDocument":"{\"Statement\":[]}"}`},
		{"ListProjectPolicies", `{"ProjectArn":"` + arn + `","MaxResults":5}`},
		{"DescribeProjects", `{"MaxResults":1e400}`},
		{"CreateProject", `{"ProjectName":"p"} trailing`},
		{"CreateProject", `[1,2]`},
	}
	names := make([]string, 0, len(a.ops))
	for n := range a.ops {
		names = append(names, n)
	}
	for _, s := range seeds {
		for i, n := range names {
			if n == s.op {
				f.Add(uint8(i), []byte(s.body))
			}
		}
	}
	f.Fuzz(func(t *testing.T, opIndex uint8, body []byte) {
		name := names[int(opIndex)%len(names)]
		c, err := a.call(name, body)
		if err == nil {
			_, err = a.fe.Handle(context.Background(), id, c)
		}
		if err == nil {
			return
		}
		var ve *apimodel.ValidationError
		if !errors.As(err, &ve) && ocellus.KindOf(err) == ocellus.Internal {
			t.Fatalf("%s %q: internal error %v", name, body, err)
		}
	})
}

// storedQueue accepts jobs and never runs them.
type storedQueue struct{}

func (storedQueue) Enqueue(context.Context, string, string, []byte) error { return nil }
