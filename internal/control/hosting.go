package control

import (
	"context"
	"errors"
	"image"
	"time"

	"github.com/ocellus/ocellus/internal/blob"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/serve"
	"github.com/ocellus/ocellus/internal/vision"
	"github.com/ocellus/ocellus/internal/vision/imageio"
)

// Image size limits of DetectCustomLabels (developer guide): 4 MB of raw
// bytes in the request, 15 MB for an S3 object.
const (
	maxImageBytes   = 4 << 20
	maxS3ImageBytes = 15 << 20
)

// newPool creates the hosting pool; state changes are saved as version
// statuses so DescribeProjectVersions (and its waiters) see them.
func (c *Control) newPool() *serve.Pool[*vision.Model] {
	return serve.New[*vision.Model](c.hostingConfig(0, ocellus.Rekognition, c.hostingState))
}

// HostedUnits is the number of inference units this process hosts now,
// by service: Custom Labels versions (ocellus.Rekognition) and Lookout for
// Vision models (ocellus.LookoutVision), for the server's metrics.
func (c *Control) HostedUnits() map[string]int {
	units := map[string]int{ocellus.Rekognition: c.pool.Units(), ocellus.LookoutVision: 0}
	if l := c.lookout.Load(); l != nil {
		units[ocellus.LookoutVision] = l.pool.Units()
	}
	return units
}

// hostingConfig is the configuration of a hosting pool of either product:
// inference-unit admission, auto-scaling and graceful stop are the same
// for a Custom Labels version and a Lookout for Vision model. slotWait is
// how long a request may wait for a free slot (0: serve's default). The
// pool's state changes go to save, except while Close stops the pools:
// the stored statuses (RUNNING, HOSTED) then stay as they are, so that the
// next start hosts those models again. On several nodes the changes go
// to the cluster's placement instead (cluster.onState), which saves only
// what is the model's, not this node's.
func (c *Control) hostingConfig(slotWait time.Duration, product string, save func(arn string, st serve.Status)) serve.Config {
	return serve.Config{Logger: c.log, Now: c.now, SlotWait: slotWait, OnState: func(arn string, st serve.Status) {
		if c.closing.Load() {
			return
		}
		if k := c.cluster.Load(); k != nil {
			if p := k.product(product); p != nil {
				k.onState(p, arn, st)
				return
			}
		}
		save(arn, st)
	}}
}

func (c *Control) hostingState(arn string, st serve.Status) {
	ctx := context.Background()
	v, err := c.store.Version(ctx, arn)
	if err != nil {
		return // deleted meanwhile
	}
	switch st.State {
	case serve.Running:
		v.Status, v.StatusMessage = ocellus.VersionRunning, "The model is running."
	case serve.Failed:
		v.Status, v.StatusMessage = ocellus.VersionFailed, "The model could not be started: "+st.Message
	case serve.Stopped:
		v.Status, v.StatusMessage = ocellus.VersionStopped, "The model is stopped."
	default:
		return // STARTING and STOPPING are written by Start/Stop themselves
	}
	if err := c.store.UpdateVersion(ctx, v); err != nil {
		c.log.Error("save hosting state", "version", arn, "err", err)
	}
}

// StartProjectVersion starts hosting a trained version.
func (c *Control) StartProjectVersion(ctx context.Context, account, arn string, minUnits, maxUnits int) (ocellus.VersionStatus, error) {
	v, err := c.version(ctx, account, arn)
	if err != nil {
		return "", err
	}
	if err := refuseAdapter(v, "StartProjectVersion"); err != nil {
		return "", err
	}
	switch v.Status {
	case ocellus.VersionTrainingCompleted, ocellus.VersionStopped, ocellus.VersionFailed, ocellus.VersionCopyingCompleted:
	default:
		return "", ocellus.Errorf(ocellus.InUse, "The model version %s is %s and cannot be started.", arn, v.Status)
	}
	if maxUnits != 0 && maxUnits < minUnits {
		return "", ocellus.Errorf(ocellus.Invalid, "MaxInferenceUnits (%d) must be at least MinInferenceUnits (%d).", maxUnits, minUnits)
	}
	v.Status, v.StatusMessage, v.MinUnits, v.MaxUnits = ocellus.VersionStarting, "The model is starting.", minUnits, maxUnits
	if err := c.store.UpdateVersion(ctx, v); err != nil {
		return "", err
	}
	if k := c.cluster.Load(); k != nil {
		k.poke() // the nodes' heartbeats place its units
		return ocellus.VersionStarting, nil
	}
	if err := c.host(ctx, v); err != nil {
		v.Status, v.StatusMessage = ocellus.VersionFailed, "The model could not be started: "+ocellus.MessageOf(err)
		_ = c.store.UpdateVersion(context.WithoutCancel(ctx), v)
		return "", err
	}
	return ocellus.VersionStarting, nil
}

// host loads a version into the pool.
func (c *Control) host(ctx context.Context, v *ocellus.ProjectVersion) error {
	max := v.MaxUnits
	if max == 0 {
		max = v.MinUnits
	}
	return c.hostUnits(ctx, v, v.MinUnits, max)
}

// hostUnits loads a version into the pool with the given units.
func (c *Control) hostUnits(ctx context.Context, v *ocellus.ProjectVersion, minUnits, maxUnits int) error {
	return c.pool.Start(ctx, v.ARN, minUnits, maxUnits, func(ctx context.Context) (*vision.Model, error) {
		return c.loadModel(v)
	})
}

// StopProjectVersion stops hosting a version.
func (c *Control) StopProjectVersion(ctx context.Context, account, arn string) (ocellus.VersionStatus, error) {
	v, err := c.version(ctx, account, arn)
	if err != nil {
		return "", err
	}
	if err := refuseAdapter(v, "StopProjectVersion"); err != nil {
		return "", err
	}
	if v.Status != ocellus.VersionRunning && v.Status != ocellus.VersionStarting {
		return "", ocellus.Errorf(ocellus.InUse, "The model version %s is %s, not running.", arn, v.Status)
	}
	v.Status, v.StatusMessage = ocellus.VersionStopping, "The model is stopping."
	if err := c.store.UpdateVersion(ctx, v); err != nil {
		return "", err
	}
	if k := c.cluster.Load(); k != nil {
		// Each node stops its units at its next heartbeat; the last one
		// to let go (or the heartbeat after the leases of a dead node
		// expired) records STOPPED.
		if err := c.pool.Stop(arn); err != nil && ocellus.KindOf(err) != ocellus.NotFound && ocellus.KindOf(err) != ocellus.InUse {
			return "", err
		}
		k.poke()
		return ocellus.VersionStopping, nil
	}
	if err := c.pool.Stop(arn); err != nil {
		if ocellus.KindOf(err) != ocellus.NotFound {
			return "", err
		}
		// Not in the pool (e.g. failed to load): stopped already.
		v.Status, v.StatusMessage = ocellus.VersionStopped, "The model is stopped."
		if err := c.store.UpdateVersion(ctx, v); err != nil {
			return "", err
		}
	}
	return ocellus.VersionStopping, nil
}

// DetectInput is one DetectCustomLabels request.
type DetectInput struct {
	VersionARN    string
	Bytes         []byte
	S3            *ocellus.S3Location
	MinConfidence *float64
	MaxResults    *int
}

// DetectCustomLabels runs a running model on an image.
func (c *Control) DetectCustomLabels(ctx context.Context, account string, in DetectInput) ([]vision.Label, error) {
	v, err := c.version(ctx, account, in.VersionARN)
	if err != nil {
		return nil, err
	}
	if v.Status != ocellus.VersionRunning {
		return nil, ocellus.Errorf(ocellus.NotReady, "The model version %s is %s; start it with StartProjectVersion.", in.VersionARN, v.Status)
	}
	data, err := c.requestBytes(ctx, account, in.Bytes, in.S3, maxImageBytes)
	if err != nil {
		return nil, err
	}
	img, err := decodeRequestImage(data)
	if err != nil {
		return nil, err
	}
	labels, err := c.predictLocal(ctx, v.ARN, img, in)
	if k := c.cluster.Load(); k != nil && forwardable(err) {
		return k.detectCustomLabels(ctx, account, in, data, err)
	}
	return labels, err
}

// predictLocal runs the version hosted on this node (ocellus.NotReady when
// it is not loaded here).
func (c *Control) predictLocal(ctx context.Context, arn string, img image.Image, in DetectInput) ([]vision.Label, error) {
	var labels []vision.Label
	err := c.pool.Do(ctx, arn, func(ctx context.Context, m *vision.Model) error {
		var err error
		labels, err = m.Predict(ctx, img, vision.PredictOptions{MinConfidence: in.MinConfidence, MaxResults: in.MaxResults})
		return err
	})
	return labels, err
}

// requestImage decodes the Image of a Rekognition request: its Bytes (at
// most maxBytes) or its S3Object, read as the caller's account.
func (c *Control) requestImage(ctx context.Context, account string, data []byte, s3 *ocellus.S3Location, maxBytes int) (image.Image, error) {
	data, err := c.requestBytes(ctx, account, data, s3, maxBytes)
	if err != nil {
		return nil, err
	}
	return decodeRequestImage(data)
}

// requestBytes reads the image of a Rekognition request: its Bytes (at
// most maxBytes) or its S3Object, read as the caller's account.
func (c *Control) requestBytes(ctx context.Context, account string, data []byte, s3 *ocellus.S3Location, maxBytes int) ([]byte, error) {
	var err error
	switch {
	case s3 != nil:
		data, err = c.readImage(ctx, account, s3)
		if err != nil {
			return nil, err
		}
	case len(data) == 0:
		return nil, ocellus.Errorf(ocellus.Invalid, "Image needs Bytes or S3Object.")
	case len(data) > maxBytes:
		return nil, ocellus.Errorf(ocellus.ImageTooLarge, "The image is %d bytes; images passed as bytes can be at most %d bytes.", len(data), maxBytes)
	}
	return data, nil
}

// decodeRequestImage decodes a Rekognition request's image.
func decodeRequestImage(data []byte) (image.Image, error) {
	img, err := imageio.Decode(data)
	if errors.Is(err, imageio.ErrTooLarge) {
		return nil, ocellus.Errorf(ocellus.ImageTooLarge, "The image is too large: %v.", err)
	}
	if err != nil {
		return nil, ocellus.Errorf(ocellus.InvalidImageFormat, "Request has invalid image format: %v", err)
	}
	return img, nil
}

func (c *Control) readImage(ctx context.Context, account string, l *ocellus.S3Location) ([]byte, error) {
	b, _, err := c.blobs.ReadAll(ctx, account, l.Bucket, l.Key, l.Version, maxS3ImageBytes)
	var tl *blob.TooLargeError
	if errors.As(err, &tl) {
		if tl.Size < 0 {
			return nil, ocellus.Errorf(ocellus.ImageTooLarge, "The image s3://%s/%s is larger than the maximum of %d bytes.", l.Bucket, l.Key, maxS3ImageBytes)
		}
		return nil, ocellus.Errorf(ocellus.ImageTooLarge, "The image s3://%s/%s is %d bytes; the maximum is %d.", l.Bucket, l.Key, tl.Size, maxS3ImageBytes)
	}
	return b, err
}

// recoverHosting starts again the versions that were running or starting
// when the process stopped, and settles those that were stopping.
func (c *Control) recoverHosting(ctx context.Context) error {
	if c.cluster.Load() != nil {
		return nil // the heartbeats place what is started, and settle stops
	}
	vs, err := c.store.VersionsInState(ctx, ocellus.VersionRunning, ocellus.VersionStarting, ocellus.VersionStopping)
	if err != nil {
		return err
	}
	for _, v := range vs {
		if v.Status == ocellus.VersionStopping {
			v.Status, v.StatusMessage = ocellus.VersionStopped, "The model is stopped."
			if err := c.store.UpdateVersion(ctx, v); err != nil {
				return err
			}
			continue
		}
		c.log.Info("restarting hosted model", "version", v.ARN)
		v.Status = ocellus.VersionStarting
		if err := c.store.UpdateVersion(ctx, v); err != nil {
			return err
		}
		if err := c.host(ctx, v); err != nil && !errors.Is(err, context.Canceled) {
			v.Status, v.StatusMessage = ocellus.VersionFailed, "The model could not be restarted: "+ocellus.MessageOf(err)
			if err := c.store.UpdateVersion(ctx, v); err != nil {
				return err
			}
		}
	}
	return nil
}
