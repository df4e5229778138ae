package control

import (
	"context"
	"fmt"

	"github.com/ocellus/ocellus/internal/ocellus"
)

// Kinds of durable jobs. The payload of each is the ARN it works on.
const (
	jobTrain = "train-version"
	jobCopy  = "copy-version"
)

// Queue runs jobs durably: a job enqueued survives a crash and runs again
// after restart. internal/jobs implements it on River.
type Queue interface {
	Enqueue(ctx context.Context, kind, key string, payload []byte) error
}

// JobHandler runs one job; it must be idempotent.
type JobHandler func(ctx context.Context, payload []byte) error

// JobHandlers are the handlers a Queue must run, by kind.
func (c *Control) JobHandlers() map[string]JobHandler {
	return map[string]JobHandler{
		jobTrain: func(ctx context.Context, p []byte) error { return c.trainVersion(ctx, string(p)) },
		jobCopy:  func(ctx context.Context, p []byte) error { return c.copyVersion(ctx, string(p)) },
	}
}

// JobFailed is called by the queue when a job has failed for good, so the
// resource does not stay in progress.
func (c *Control) JobFailed(kind, key string, err error) {
	ctx := context.Background()
	switch kind {
	case jobTrain:
		v, gerr := c.store.Version(ctx, key)
		if gerr != nil || v.Status != ocellus.VersionTrainingInProgress {
			return
		}
		v.Status, v.StatusMessage, v.TrainingEnd = ocellus.VersionTrainingFailed, versionFailure(err), ocellus.Now(c.now)
		if uerr := c.store.UpdateVersion(ctx, v); uerr != nil {
			c.log.Error("mark training failed", "version", key, "err", uerr)
		}
	case jobCopy:
		v, gerr := c.store.Version(ctx, key)
		if gerr != nil || v.Status != ocellus.VersionCopyingInProgress {
			return
		}
		v.Status, v.StatusMessage = ocellus.VersionCopyingFailed, "Copy failed: "+ocellus.MessageOf(err)
		if uerr := c.store.UpdateVersion(ctx, v); uerr != nil {
			c.log.Error("mark copy failed", "version", key, "err", uerr)
		}
	}
}

// UseQueue makes the control plane enqueue its jobs on q.
func (c *Control) UseQueue(q Queue) { c.queue = q }

// enqueue runs a job through the queue, or, without one, in-process; the
// in-process path relies on Recover to run it again after a restart.
func (c *Control) enqueue(ctx context.Context, kind, arn string) error {
	if c.queue != nil {
		return c.queue.Enqueue(ctx, kind, arn, []byte(arn))
	}
	h, ok := c.JobHandlers()[kind]
	if !ok {
		return fmt.Errorf("no handler for job kind %q", kind)
	}
	c.background(func(ctx context.Context) {
		if err := h(ctx, []byte(arn)); err != nil && ctx.Err() == nil {
			c.JobFailed(kind, arn, err)
		}
	})
	return nil
}

// recoverVersions queues again the training of versions left in progress:
// with a queue the enqueue is a no-op for jobs it still holds, and it
// covers a crash between recording a version and enqueueing its job.
func (c *Control) recoverVersions(ctx context.Context) error {
	if err := c.recoverHosting(ctx); err != nil {
		return err
	}
	vs, err := c.store.VersionsInState(ctx, ocellus.VersionTrainingInProgress, ocellus.VersionCopyingInProgress)
	if err != nil {
		return err
	}
	for _, v := range vs {
		kind := jobTrain
		if v.Status == ocellus.VersionCopyingInProgress {
			kind = jobCopy
		}
		c.log.Info("resuming", "job", kind, "version", v.ARN)
		if err := c.enqueue(ctx, kind, v.ARN); err != nil {
			return err
		}
	}
	return nil
}
