package ocellus

import "testing"

// TestMayUseS3: each form of an S3Buckets entry grants what it names and
// nothing next to it; no entry grants nothing.
func TestMayUseS3(t *testing.T) {
	a := Account{S3Buckets: []string{"team-a", "lab-*", "shared/team-a/"}}
	for _, c := range []struct {
		bucket, key string
		want        bool
	}{
		{"team-a", "img/1.jpg", true},
		{"team-ab", "img/1.jpg", false},
		{"team", "x", false},
		{"lab-", "x", true},
		{"lab-photos", "deep/key.png", true},
		{"lab", "x", false},
		{"shared", "team-a/train.manifest", true},
		{"shared", "team-a", false},
		{"shared", "team-b/train.manifest", false},
		{"other", "team-a/x", false},
	} {
		if got := a.MayUseS3(c.bucket, c.key); got != c.want {
			t.Errorf("MayUseS3(%q, %q) = %v, want %v", c.bucket, c.key, got, c.want)
		}
	}
	if (Account{}).MayUseS3("team-a", "x") {
		t.Error("an account without S3Buckets may use a bucket")
	}
	if !(Account{S3Buckets: []string{"*"}}).MayUseS3("anything", "x") {
		t.Error(`"*" does not grant every bucket`)
	}
}

func TestValidS3BucketsEntry(t *testing.T) {
	for e, bad := range map[string]bool{
		"team-a": false, "lab-*": false, "*": false, "shared/team-a/": false, "b/": false,
		"": true, "/key": true, "Team": true, "lab-*/x": true, "a b": true, "a*b": true,
	} {
		if why := ValidS3BucketsEntry(e); (why != "") != bad {
			t.Errorf("ValidS3BucketsEntry(%q) = %q, want bad=%v", e, why, bad)
		}
	}
}
