package server_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rekognition"

	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/server"
)

// BenchmarkDescribeProjects measures DescribeProjects round trips over HTTP
// from one aws-sdk-go-v2 client, with 100 projects in the account and every
// call returning all 100 (SigV4 verification, validation, SQLite, JSON).
func BenchmarkDescribeProjects(b *testing.B) {
	dir := b.TempDir()
	ts := e2e.Start(b, server.Config{DataDir: dir})
	ctx := context.Background()
	c := ts.Rekognition(alice)
	for i := 0; i < 100; i++ {
		if _, err := c.CreateProject(ctx, &rekognition.CreateProjectInput{ProjectName: aws.String(fmt.Sprintf("bench-%03d", i))}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		out, err := c.DescribeProjects(ctx, &rekognition.DescribeProjectsInput{MaxResults: aws.Int32(100)})
		if err != nil {
			b.Fatalf("DescribeProjects call %d: %v", i, err)
		}
		if len(out.ProjectDescriptions) != 100 {
			b.Fatalf("DescribeProjects: %d projects, want 100", len(out.ProjectDescriptions))
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkStartup measures the built binary from exec to its first answered
// request (e2e.StartBinary: the announced address answers /_ocellus/health), on a data dir that already holds 100 projects and an S3 bucket.
// Reports the median over b.N starts.
func BenchmarkStartup(b *testing.B) {
	dir := b.TempDir()
	ts := e2e.Start(b, server.Config{DataDir: dir})
	for i := 0; i < 100; i++ {
		if _, err := ts.Rekognition(alice).CreateProject(context.Background(), &rekognition.CreateProjectInput{ProjectName: aws.String(fmt.Sprintf("p%03d", i))}); err != nil {
			b.Fatal(err)
		}
	}
	ts.Stop()
	e2e.Binary(b) // built before the clock runs
	var samples []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		p := e2e.StartBinary(b, e2e.BinaryConfig{DataDir: dir})
		samples = append(samples, time.Since(t0))
		p.Kill9()
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	b.ReportMetric(float64(samples[len(samples)/2].Microseconds())/1000, "ms-median-startup")
}
