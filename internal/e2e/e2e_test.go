package e2e_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/rekognition"

	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/server"
)

// TestStartStop: an in-process server answers its clients at once, stops
// cleanly (twice is a no-op) and a second one opens the same data dir.
func TestStartStop(t *testing.T) {
	s := e2e.Start(t, server.Config{})
	if _, err := s.Rekognition(e2e.Alice).CreateProject(context.Background(), &rekognition.CreateProjectInput{ProjectName: new("p")}); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	s.Stop()
	if _, err := http.Get(s.URL + "/_ocellus/health"); err == nil {
		t.Fatal("stopped server still answers")
	}
	s2 := e2e.Start(t, server.Config{DataDir: s.DataDir})
	out, err := s2.Rekognition(e2e.Bob).DescribeProjects(context.Background(), &rekognition.DescribeProjectsInput{})
	if err != nil || len(out.ProjectDescriptions) != 0 {
		t.Fatalf("Bob sees %v, %v; want no projects", out, err)
	}
	out, err = s2.Rekognition(e2e.Alice).DescribeProjects(context.Background(), &rekognition.DescribeProjectsInput{})
	if err != nil || len(out.ProjectDescriptions) != 1 {
		t.Fatalf("after restart Alice sees %v, %v; want her project", out, err)
	}
}

// fakeTB records a Fatalf instead of ending the test.
type fakeTB struct {
	testing.TB
	failed string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = format
	panic(f)
}

func TestPoll(t *testing.T) {
	n := 0
	got := e2e.Poll(t, time.Second, "counter", func() (int, bool) { n++; return n, n == 3 })
	if got != 3 {
		t.Fatalf("Poll returned %d, want 3", got)
	}
	f := &fakeTB{TB: t}
	start := time.Now()
	func() {
		defer func() {
			if r := recover(); r != f {
				panic(r)
			}
		}()
		e2e.Poll(f, 50*time.Millisecond, "never", func() (string, bool) { return "busy", false })
	}()
	if f.failed == "" || time.Since(start) < 50*time.Millisecond {
		t.Fatalf("Poll past its deadline: failed=%q after %s", f.failed, time.Since(start))
	}
}

// TestStartBinary: the real binary serves the clients, survives a kill -9
// with what it acknowledged, and stops on SIGTERM.
func TestStartBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	p := e2e.StartBinary(t, e2e.BinaryConfig{})
	ctx := context.Background()
	if _, err := p.Rekognition(e2e.Alice).CreateProject(ctx, &rekognition.CreateProjectInput{ProjectName: new("kept")}); err != nil {
		t.Fatal(err)
	}
	p.Kill9()
	if _, err := http.Get(p.URL + "/_ocellus/health"); err == nil {
		t.Fatal("killed binary still answers")
	}
	p2 := e2e.StartBinary(t, e2e.BinaryConfig{DataDir: p.DataDir})
	out, err := p2.Rekognition(e2e.Alice).DescribeProjects(ctx, &rekognition.DescribeProjectsInput{})
	if err != nil || len(out.ProjectDescriptions) != 1 {
		t.Fatalf("after kill -9 and restart: %v, %v; want the project", out, err)
	}
	p2.Stop()
	if _, err := http.Get(p2.URL + "/_ocellus/health"); err == nil {
		t.Fatal("stopped binary still answers")
	}
}
