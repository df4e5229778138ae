package s3_test

import (
	"context"
	"crypto/md5"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	s3api "github.com/ocellus/ocellus/internal/api/s3"
	"github.com/ocellus/ocellus/internal/e2e"
)

var ctx = context.Background()

// TestKill9 kills the real binary with SIGKILL while uploads (single and
// multipart) to its embedded S3 endpoint are in flight, restarts it on the
// same data directory, and checks that every acknowledged object is intact
// and no listed object is partial.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	acked := map[string][16]byte{}
	var mu sync.Mutex
	for round := 0; round < 3; round++ {
		srv := e2e.StartBinary(t, e2e.BinaryConfig{DataDir: dir})
		// One attempt: an upload the kill interrupts is not acknowledged.
		c := s3.New(srv.S3(e2e.Alice).Options(), func(o *s3.Options) { o.RetryMaxAttempts = 1 })
		if round == 0 {
			s3api.MkBucket(t, c, "crash")
		}
		verify(t, c, acked)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					key := fmt.Sprintf("r%d/w%d/%d", round, w, i)
					data := s3api.RandBytes(50_000 + 100_000*(i%5))
					var err error
					if w == 0 && i%3 == 0 {
						err = multipartPut(c, key, data)
					} else {
						_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("crash"), Key: &key, Body: strings.NewReader(string(data))})
					}
					if err != nil {
						return // the server died under us
					}
					mu.Lock()
					acked[key] = md5.Sum(data)
					mu.Unlock()
				}
			}(w)
		}
		time.Sleep(time.Duration(300+200*round) * time.Millisecond) // let uploads be mid-flight at a varying moment
		srv.Kill9()
		close(stop)
		wg.Wait()
	}
	c := e2e.StartBinary(t, e2e.BinaryConfig{DataDir: dir}).S3(e2e.Alice)
	if len(acked) < 10 {
		t.Fatalf("only %d uploads acknowledged; the test did not exercise much", len(acked))
	}
	verify(t, c, acked)
	t.Logf("%d acknowledged uploads intact after 3 kills", len(acked))
	if n := s3api.CountFiles(t, filepath.Join(dir, "s3", "tmp")); n != 0 {
		t.Fatalf("%d temp files after restart", n)
	}
}

func multipartPut(c *s3.Client, key string, data []byte) error {
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("crash"), Key: &key})
	if err != nil {
		return err
	}
	up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("crash"), Key: &key, UploadId: cr.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader(string(data))})
	if err != nil {
		return err
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("crash"), Key: &key, UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: up.ETag}}}})
	return err
}

// verify checks every acknowledged object, and that every listed object
// reads back completely with the size the listing claims.
func verify(t *testing.T, c *s3.Client, acked map[string][16]byte) {
	t.Helper()
	for key, sum := range acked {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("crash"), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("acknowledged %s: %v", key, err)
		}
		b, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil || md5.Sum(b) != sum {
			t.Fatalf("acknowledged %s differs after kill -9", key)
		}
	}
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("crash")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("crash"), Key: o.Key})
			if err != nil {
				t.Fatalf("listed %s: %v", *o.Key, err)
			}
			b, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil || int64(len(b)) != *o.Size {
				t.Fatalf("listed %s: %d bytes, listing says %d (%v)", *o.Key, len(b), *o.Size, err)
			}
			if !strings.Contains(*o.ETag, "-") && fmt.Sprintf(`"%x"`, md5.Sum(b)) != *o.ETag {
				t.Fatalf("listed %s: content does not match its ETag", *o.Key)
			}
		}
	}
}
