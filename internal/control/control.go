// Package control holds the use cases shared by both AWS front-ends: the
// Rekognition Custom Labels and Lookout for Vision packages translate wire
// shapes into calls here, and everything here speaks the domain vocabulary
// of package ocellus. It checks ownership, state rules and quotas; the
// front-ends have already checked the request against the API model.
package control

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocellus/ocellus/internal/blob"
	"github.com/ocellus/ocellus/internal/keyring"
	"github.com/ocellus/ocellus/internal/serve"
	"github.com/ocellus/ocellus/internal/space"
	"github.com/ocellus/ocellus/internal/vision"
	"github.com/ocellus/ocellus/internal/vision/backbone"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/store"
)

// Config configures a Control. Zero values are the documented defaults.
type Config struct {
	Region string           // default "us-east-1"
	Now    func() time.Time // default time.Now
	Logger *slog.Logger     // default: discard
	// DataDir holds model artifacts (under models/). Default "./data".
	DataDir string
	// Backbone is the feature extractor models are trained on.
	Backbone backbone.Backbone
	// DetectionBackbone is the network detection models are trained on:
	// a detection network (yolox_nano) or Backbone at detection
	// resolution (vision.DetectionSize); nil uses Backbone.
	DetectionBackbone backbone.Backbone
	// Keyring encrypts model artifacts (KmsKeyId). Default: a keyring
	// with only the service-managed key under DataDir.
	Keyring *keyring.Keyring
	// Space stops background writes (dataset imports, model artifacts)
	// while the data volume is within its reserve. nil: no check.
	Space *space.Guard
	// Artifacts keeps the trained models of both products. Default:
	// NewArtifacts(DataDir, Keyring, Space).
	Artifacts *Artifacts
	// Hold is a test hook, nil in production: every job calls it with its
	// kind at each hold point (HoldAfterLoad, HoldBeforeSave), and it may
	// block there until ctx is done, so that a test can act (kill the
	// process, call the API) while a job is known to be at that point.
	Hold func(ctx context.Context, kind, point string)
	// ModerationDir is the backbone directory `ocellus backbone pull
	// nsfwjs-mobilenet_v2` converts the content moderation base model
	// into; DetectModerationLabels loads it from there on first use.
	// "": no base model, DetectModerationLabels says how to install it.
	ModerationDir string
}

// Control is the control plane.
type Control struct {
	store  store.Store
	blobs  *blob.Blobs
	region string
	now    func() time.Time
	log    *slog.Logger

	dataDir  string
	space    *space.Guard
	backbone backbone.Backbone
	detector backbone.Backbone
	queue    Queue                   // required: set by UseQueue
	lookout  atomic.Pointer[Lookout] // set by NewLookout; runs the Lookout for Vision jobs
	holdFn   func(ctx context.Context, kind, point string)
	pool     *serve.Pool[*vision.Model]
	closing  atomic.Bool // set by Close: hosting stops are not recorded
	// cluster places hosting on the nodes of a shared database (set by
	// StartCluster); nil on a single node, which hosts every started model.
	cluster atomic.Pointer[cluster]
	arts    *Artifacts
	// moderation is the content moderation base model, loaded on first use.
	moderation *moderationModel
	// adapters are the Custom Moderation adapters loaded on first use.
	adapters *adapterCache
}

// New returns a control plane over st, reading and writing S3 through blobs.
func New(st store.Store, blobs *blob.Blobs, cfg Config) *Control {
	c := &Control{store: st, blobs: blobs, region: cfg.Region, now: cfg.Now, log: cfg.Logger, dataDir: cfg.DataDir, space: cfg.Space, backbone: cfg.Backbone, detector: cfg.DetectionBackbone, arts: cfg.Artifacts, holdFn: cfg.Hold,
		moderation: &moderationModel{dir: cfg.ModerationDir}, adapters: &adapterCache{max: maxCachedAdapters}}
	if c.detector == nil {
		c.detector = c.backbone
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.dataDir == "" {
		c.dataDir = "./data"
	}
	if c.arts == nil {
		k := cfg.Keyring
		if k == nil {
			var err error
			if k, err = keyring.Open(c.dataDir, ""); err != nil {
				// resolveKey reports it on the first use.
				c.log.Error("open the service-managed key", "dir", c.dataDir, "err", err)
			}
		}
		c.arts = NewArtifacts(c.dataDir, k, c.space)
	}
	if c.region == "" {
		c.region = "us-east-1"
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.pool = c.newPool()
	return c
}

// Region is the region resources are created in.
func (c *Control) Region() string { return c.region }

// pageToken is the content of a NextToken: which listing it continues and
// where. Tokens are opaque to clients; anything we did not issue for the
// same listing is InvalidPaginationToken.
type pageToken struct {
	List  string `json:"l"`
	After string `json:"a"`
}

func encodeToken(list, after string) string {
	b, _ := json.Marshal(pageToken{List: list, After: after})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(list, tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	var pt pageToken
	if err == nil {
		err = json.Unmarshal(b, &pt)
	}
	if err != nil || pt.List != list || pt.After == "" {
		return "", invalidToken(tok)
	}
	return pt.After, nil
}

// invalidToken is the error for a NextToken we did not issue for the
// listing: InvalidPaginationTokenException in Custom Labels, a
// ValidationException in Lookout for Vision (each API's error table).
func invalidToken(tok string) error {
	return ocellus.Errorf(ocellus.InvalidPaginationToken, "The pagination token %q is invalid.", tok)
}

// pageLimit applies the default (and largest) page size of the List and
// Describe operations, 100.
func pageLimit(maxResults int) int {
	if maxResults <= 0 || maxResults > 100 {
		return 100
	}
	return maxResults
}

// cutPage keeps the first limit items of a listing read with limit+1 and
// returns the token that continues after the last one kept ("" when the
// listing is complete).
func cutPage[T any](items []T, limit int, list string, key func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, encodeToken(list, key(items[limit-1]))
}

// s3Fetchers is how many S3 reads one training set's images are fetched
// with at a time.
const s3Fetchers = 8

// forEach runs fn(i) for i in [0, n), at most width at a time, and waits
// for all of them.
func forEach(n, width int, fn func(i int)) {
	sem := make(chan struct{}, width)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

// checkTags applies the rules AWS applies to tag keys beyond the model's.
func checkTags(tags map[string]string) error {
	if len(tags) > ocellus.MaxTagsPerResource {
		return ocellus.Errorf(ocellus.QuotaExceeded, "A resource can have at most %d tags.", ocellus.MaxTagsPerResource)
	}
	for k := range tags {
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return ocellus.Errorf(ocellus.Invalid, "Tag keys may not start with the reserved prefix 'aws:' (%s).", k)
		}
	}
	return nil
}
