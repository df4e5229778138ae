package s3

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func FuzzCompleteMultipart(f *testing.F) {
	f.Add([]byte(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"abc"</ETag></Part></CompleteMultipartUpload>`))
	f.Add([]byte(`<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>x</ETag><PartNumber>2</PartNumber><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>`))
	f.Add([]byte(`<Delete><Quiet>true</Quiet><Object><Key>a</Key><VersionId>v</VersionId></Object></Delete>`))
	f.Add([]byte(`<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseCompleteMultipart(b)
		if err == nil {
			if len(c.Parts) == 0 {
				t.Fatal("accepted no parts")
			}
			for i := 1; i < len(c.Parts); i++ {
				if c.Parts[i].PartNumber <= c.Parts[i-1].PartNumber {
					t.Fatal("accepted parts out of order")
				}
			}
		} else if _, ok := asS3Error(err); !ok {
			t.Fatalf("non-S3 error %v", err)
		}
		var d deleteRequest
		xmlUnmarshal(b, &d)
		var v versioningConfiguration
		xmlUnmarshal(b, &v)
	})
}

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		h                string
		size, start, n   int64
		partial, wantErr bool
	}{
		{"bytes=0-0", 10, 0, 1, true, false},
		{"bytes=5-", 10, 5, 5, true, false},
		{"bytes=-3", 10, 7, 3, true, false},
		{"bytes=-30", 10, 0, 10, true, false},
		{"bytes=8-100", 10, 8, 2, true, false},
		{"bytes=10-", 10, 0, 0, false, true},
		{"bytes=-0", 10, 0, 0, false, true},
		{"bytes=5-2", 10, 0, 0, false, false},
		{"items=1-2", 10, 0, 0, false, false},
		{"bytes=1-2,4-5", 10, 0, 0, false, false},
		{"", 10, 0, 0, false, false},
		{"bytes=0-", 0, 0, 0, false, true},
	} {
		s, n, p, err := parseRange(tc.h, tc.size)
		if (err != nil) != tc.wantErr || p != tc.partial || (p && (s != tc.start || n != tc.n)) {
			t.Errorf("%q/%d: %d %d %v %v", tc.h, tc.size, s, n, p, err)
		}
	}
}

func TestBucketNames(t *testing.T) {
	for n, ok := range map[string]bool{"abc": true, "my.bucket-1": true, "ab": false, "ABC": false, "a_b": false,
		"-ab": false, "ab-": false, "a..b": false, "a.-b": false, "10.0.0.1": false, "xn--abc": false, "abc-s3alias": false} {
		if validBucketName(n) != ok {
			t.Errorf("validBucketName(%q) = %v", n, !ok)
		}
	}
}

// FuzzURLEncoding: encoding-type=url output decodes back to the name with
// URL-path unescaping (and with boto3's unquote_plus: no raw '+' or space)
// and keeps '/' as is.
func FuzzURLEncoding(f *testing.F) {
	for _, s := range []string{"quux ab/", "a+b=c&d", "ünï/código", "%2F", "~._-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := encoder(true).s(s)
		if dec, err := url.PathUnescape(got); err != nil || dec != s {
			t.Fatalf("%q encoded %q decodes to %q (%v)", s, got, dec, err)
		}
		if strings.ContainsAny(got, " +") || strings.Count(got, "/") != strings.Count(s, "/") {
			t.Fatalf("%q encoded %q", s, got)
		}
	})
}

// FuzzSecurityHeaders feeds x-amz-tagging and the encryption/ACL headers:
// every answer is either accepted tags within S3's limits or an S3 error.
func FuzzSecurityHeaders(f *testing.F) {
	f.Add("a=1&b=two%20words", "AES256", "private")
	f.Add("k=%C3%A9&=x&dup=1&dup=2", "aws:kms", "public-read")
	f.Add("aws:x=1", "aws:kms:dsse", "bucket-owner-full-control")
	f.Fuzz(func(t *testing.T, tagging, sse, acl string) {
		tags, err := tagsFromHeader(tagging)
		if err != nil {
			if _, ok := asS3Error(err); !ok {
				t.Fatalf("non-S3 error %v", err)
			}
		} else if checkTags(tags) != nil || len(tags) > maxObjectTags {
			t.Fatal("accepted tags that break the limits")
		} else if back, err := tagsFromJSON(tagsJSON(tags)), checkTags(tags); err != nil || len(back) != len(tags) {
			t.Fatal("tags do not survive storage")
		}
		h := http.Header{}
		h.Set("X-Amz-Server-Side-Encryption", sse)
		h.Set("X-Amz-Acl", acl)
		for _, op := range []string{"PutObject", "CreateBucket", "GetObject", "CopyObject"} {
			if err := checkSecurityHeaders(op, h); err != nil {
				if _, ok := asS3Error(err); !ok {
					t.Fatalf("non-S3 error %v", err)
				}
			} else if op == "PutObject" && (sse != "" && sse != "AES256" && sse != "aws:kms" || acl != "" && acl != "private" && acl != "bucket-owner-full-control") {
				t.Fatalf("accepted sse %q acl %q", sse, acl)
			}
		}
	})
}
