package control

import (
	"strings"
	"testing"
	"time"
)

// TestClusterAuth: a forwarded request is accepted only with the HMAC of
// the same secret over its time and exact body, within the clock skew.
func TestClusterAuth(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	body := []byte(`{"Op":"DetectCustomLabels","Account":"111111111111"}`)
	h := signCluster("s3cret", now, body)
	if err := checkCluster("s3cret", h, now.Add(2*time.Second), body); err != nil {
		t.Fatalf("a good signature was refused: %v", err)
	}
	cases := []struct {
		name, secret, header string
		at                   time.Time
		body                 []byte
		want                 string
	}{
		{"no header", "s3cret", "", now, body, "missing"},
		{"other secret", "other", h, now, body, "does not match"},
		{"other body", "s3cret", h, now, []byte(`{"Op":"DetectCustomLabels","Account":"222222222222"}`), "does not match"},
		{"too old", "s3cret", h, now.Add(2 * time.Minute), body, "from this node's clock"},
		{"from the future", "s3cret", h, now.Add(-2 * time.Minute), body, "from this node's clock"},
		{"bad time", "s3cret", "x:" + strings.SplitN(h, ":", 2)[1], now, body, "malformed"},
	}
	for _, c := range cases {
		err := checkCluster(c.secret, c.header, c.at, c.body)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
}
