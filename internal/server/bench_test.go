package server_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rekognition"
)

// BenchmarkDescribeProjects measures DescribeProjects round trips over HTTP
// from one aws-sdk-go-v2 client, with 100 projects in the account and every
// call returning all 100 (SigV4 verification, validation, SQLite, JSON).
func BenchmarkDescribeProjects(b *testing.B) {
	dir := b.TempDir()
	ts := startB(b, dir)
	ctx := context.Background()
	c := rek(ts, alice)
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
// request, on a data dir that already holds 100 projects and an S3 bucket.
// Reports the median over b.N starts.
func BenchmarkStartup(b *testing.B) {
	bin := ocellusBinary(b)
	dir := b.TempDir()
	ts := startB(b, dir)
	for i := 0; i < 100; i++ {
		if _, err := rek(ts, alice).CreateProject(context.Background(), &rekognition.CreateProjectInput{ProjectName: aws.String(fmt.Sprintf("p%03d", i))}); err != nil {
			b.Fatal(err)
		}
	}
	ts.stop()
	var samples []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		t0 := time.Now()
		cmd := exec.Command(bin, "serve", "--addr", addr, "--data-dir", dir)
		cmd.Stdout, cmd.Stderr = nil, os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		deadline := t0.Add(30 * time.Second)
		for {
			resp, err := http.Get("http://" + addr + "/")
			if err == nil {
				resp.Body.Close()
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("server did not answer within 30s")
			}
			time.Sleep(time.Millisecond)
		}
		samples = append(samples, time.Since(t0))
		cmd.Process.Kill()
		cmd.Wait()
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	b.ReportMetric(float64(samples[len(samples)/2].Microseconds())/1000, "ms-median-startup")
}
