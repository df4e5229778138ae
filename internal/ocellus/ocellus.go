package ocellus

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Service names as they appear in ARNs and SigV4 scopes.
const (
	Rekognition   = "rekognition"
	LookoutVision = "lookoutvision"
)

// Account is a tenant. Every resource belongs to exactly one account.
type Account struct {
	ID              string
	AccessKeyID     string
	SecretAccessKey string
	// S3Buckets lists what the account may read and write in an external
	// S3 (--s3-endpoint), which Ocellus reaches with its own service
	// credentials: each entry is a bucket name ("team-a"), a bucket name
	// prefix ending in '*' ("team-a-*"; "*" alone is every bucket), or a
	// bucket and a key prefix ("shared/team-a/"). Empty: no bucket. The
	// embedded S3 endpoint ignores it (it checks each bucket's owner).
	S3Buckets []string
}

// MayUseS3 reports whether the account's S3Buckets let it read and write
// the object key of bucket.
func (a Account) MayUseS3(bucket, key string) bool {
	for _, e := range a.S3Buckets {
		name, prefix, scoped := strings.Cut(e, "/")
		switch {
		case scoped:
			if bucket == name && strings.HasPrefix(key, prefix) {
				return true
			}
		case strings.HasSuffix(name, "*"):
			if strings.HasPrefix(bucket, strings.TrimSuffix(name, "*")) {
				return true
			}
		case bucket == name:
			return true
		}
	}
	return false
}

// ValidS3BucketsEntry reports what is wrong with an S3Buckets entry, ""
// when nothing is: the bucket part must be a bucket name of lower-case
// letters, digits, '.' and '-' (with one trailing '*' for a prefix, which
// a key prefix cannot follow).
func ValidS3BucketsEntry(e string) string {
	name, _, scoped := strings.Cut(e, "/")
	star := strings.HasSuffix(name, "*")
	name = strings.TrimSuffix(name, "*")
	switch {
	case name == "" && !star:
		return "names no bucket"
	case star && scoped:
		return "a bucket prefix ('*') cannot be followed by a key prefix"
	case strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789.-") != "":
		return "a bucket name has only lower-case letters, digits, '.' and '-'"
	}
	return ""
}

var accountIDPattern = regexp.MustCompile(`^[0-9]{12}$`)

// ValidAccountID reports whether id is a 12-digit AWS account id.
func ValidAccountID(id string) bool { return accountIDPattern.MatchString(id) }

// Feature of a Custom Labels project.
const (
	FeatureCustomLabels      = "CUSTOM_LABELS"
	FeatureContentModeration = "CONTENT_MODERATION"
)

// ProjectStatus is the lifecycle state of a project.
type ProjectStatus string

const (
	ProjectCreating ProjectStatus = "CREATING"
	ProjectCreated  ProjectStatus = "CREATED"
	ProjectDeleting ProjectStatus = "DELETING"
)

// Project is a Custom Labels or Lookout for Vision project.
type Project struct {
	ARN        string
	Account    string
	Service    string // Rekognition or LookoutVision
	Name       string
	Feature    string // Custom Labels only
	AutoUpdate string // Custom Labels only: ENABLED | DISABLED | ""
	Status     ProjectStatus
	Created    time.Time
}

// Policy is a project policy (resource-based IAM policy) on a Custom Labels project.
type Policy struct {
	ProjectARN string
	Name       string
	RevisionID string
	Document   string
	Created    time.Time
	Updated    time.Time
}

// Limits the service enforces, as AWS documents them.
const (
	MaxTagsPerResource    = 200
	MaxPoliciesPerProject = 5
)

// ARN is a parsed Amazon Resource Name.
type ARN struct {
	Partition string
	Service   string
	Region    string
	Account   string
	Resource  string // everything after the account, e.g. "project/name/123"
}

func (a ARN) String() string {
	return "arn:" + a.Partition + ":" + a.Service + ":" + a.Region + ":" + a.Account + ":" + a.Resource
}

// ParseARN splits an ARN into its parts.
func ParseARN(s string) (ARN, error) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[5] == "" {
		return ARN{}, Errorf(Invalid, "%q is not a valid ARN", s)
	}
	return ARN{Partition: parts[1], Service: parts[2], Region: parts[3], Account: parts[4], Resource: parts[5]}, nil
}

// ProjectARN builds a Custom Labels project ARN.
func ProjectARN(region, account, name string, created time.Time) string {
	return ARN{Partition: "aws", Service: Rekognition, Region: region, Account: account,
		Resource: "project/" + name + "/" + strconv.FormatInt(created.UnixMilli(), 10)}.String()
}

// LookoutProjectARN builds a Lookout for Vision project ARN.
func LookoutProjectARN(region, account, name string) string {
	return ARN{Partition: "aws", Service: LookoutVision, Region: region, Account: account, Resource: "project/" + name}.String()
}

// ResourceKind says what a Custom Labels ARN names: "project", "dataset",
// "version", or "" when it is none of them.
func ResourceKind(arn string) string {
	a, err := ParseARN(arn)
	if err != nil || a.Service != Rekognition {
		return ""
	}
	segs := strings.Split(a.Resource, "/")
	switch {
	case len(segs) == 3 && segs[0] == "project":
		return "project"
	case len(segs) == 5 && segs[0] == "project" && segs[2] == "dataset":
		return "dataset"
	case len(segs) == 5 && segs[0] == "project" && segs[2] == "version":
		return "version"
	}
	return ""
}

// CheckOwner refuses an ARN that names another account or region: the
// caller learns only that access is denied, never whether it exists.
func CheckOwner(arn, account, region string) error {
	a, err := ParseARN(arn)
	if err != nil {
		return err
	}
	if a.Account != account {
		return Errorf(AccessDenied, "User: arn:aws:iam::%s:root is not authorized to access %s", account, arn)
	}
	if a.Region != region {
		return Errorf(NotFound, "The resource %s was not found in region %s", arn, region)
	}
	return nil
}

// Now truncates t to milliseconds, the precision ARNs and timestamps carry.
func Now(clock func() time.Time) time.Time { return clock().UTC().Truncate(time.Millisecond) }
