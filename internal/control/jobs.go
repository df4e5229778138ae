package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/store"
)

// Kinds of durable jobs. Every long piece of work is one: a job is stored
// before the API call that started it answers, and one that a crash
// interrupted runs again after restart. Kinds are stored with the jobs:
// keep them stable across releases.
const (
	JobTrain        = "train-version"       // key and payload: the version ARN
	JobCopy         = "copy-version"        // key and payload: the version ARN
	JobImport       = "import-dataset"      // key and payload: the dataset ARN
	JobUpdate       = "update-dataset"      // key: dataset ARN@update time; payload: the dataset ARN
	JobTrainLookout = "train-lookout-model" // key: the model ARN; payload: lookoutModelJob
	JobPackage      = "package-model"       // key: project ARN/job name; payload: packagingJob
)

// Hold points: where a job of every kind calls Config.Hold.
const (
	HoldAfterLoad  = "after-load"  // the resource is loaded and in progress; no work done yet
	HoldBeforeSave = "before-save" // the work is done; its final status is not stored yet
)

// Queue runs jobs durably: a job enqueued survives a crash and runs again
// after restart; a (kind, key) already waiting or running is not added
// again. internal/jobs implements it on River. The control plane needs one
// (UseQueue) before any call that starts work.
type Queue interface {
	Enqueue(ctx context.Context, kind, key string, payload []byte) error
}

// JobHandler runs one job. Every handler has the same idempotent shape:
// load the resource, return at once unless it is still in progress, work,
// store the final status. It may run more than once (after a crash); it
// returns ctx.Err() when interrupted, so that the queue runs it again.
type JobHandler func(ctx context.Context, payload []byte) error

// JobHandlers are the handlers a Queue must run, by kind.
func (c *Control) JobHandlers() map[string]JobHandler {
	return map[string]JobHandler{
		JobTrain:        func(ctx context.Context, p []byte) error { return c.trainVersion(ctx, string(p)) },
		JobCopy:         func(ctx context.Context, p []byte) error { return c.copyVersion(ctx, string(p)) },
		JobImport:       func(ctx context.Context, p []byte) error { return c.importDataset(ctx, string(p)) },
		JobUpdate:       func(ctx context.Context, p []byte) error { return c.updateDataset(ctx, string(p)) },
		JobTrainLookout: lookoutJob(c, JobTrainLookout, (*Lookout).trainModelJob),
		JobPackage:      lookoutJob(c, JobPackage, (*Lookout).packageJob),
	}
}

// lookoutJob is the handler of a Lookout for Vision job whose payload is a
// JSON T.
func lookoutJob[T any](c *Control, kind string, run func(*Lookout, context.Context, T) error) JobHandler {
	return func(ctx context.Context, p []byte) error {
		var j T
		if err := json.Unmarshal(p, &j); err != nil {
			return fmt.Errorf("%s payload: %w", kind, err)
		}
		l, err := c.lookoutPlane()
		if err != nil {
			return err
		}
		return run(l, ctx, j)
	}
}

// lookoutModelJob names the Lookout for Vision model a train-lookout-model
// job trains.
type lookoutModelJob struct {
	Project string `json:"project"` // project ARN
	Version int    `json:"version"`
}

// packagingJob names the model packaging job a package-model job runs.
type packagingJob struct {
	Project string `json:"project"` // project ARN
	Name    string `json:"name"`
}

func (c *Control) lookoutPlane() (*Lookout, error) {
	if l := c.lookout.Load(); l != nil {
		return l, nil
	}
	return nil, errors.New("the Lookout for Vision control plane is not set up")
}

// JobFailed is called by the queue when a job has failed for good (a final
// error, a panic, a timeout, or every attempt interrupted by a crash), so
// that its resource ends in AWS's failure status with a message instead of
// staying in progress. It is idempotent: a resource no longer in progress
// is left alone.
func (c *Control) JobFailed(kind, key string, payload []byte, err error) {
	ctx := context.Background()
	logErr := func(what string, uerr error) {
		if uerr != nil && ocellus.KindOf(uerr) != ocellus.NotFound {
			c.log.Error(what, "job", kind, "key", key, "err", uerr)
		}
	}
	switch kind {
	case JobTrain:
		v, gerr := c.store.Version(ctx, key)
		if gerr != nil || v.Status != ocellus.VersionTrainingInProgress {
			return
		}
		v.Status, v.StatusMessage, v.TrainingEnd = ocellus.VersionTrainingFailed, versionFailure(err), ocellus.Now(c.now)
		logErr("mark training failed", c.store.UpdateVersion(ctx, v))
	case JobCopy:
		v, gerr := c.store.Version(ctx, key)
		if gerr != nil || v.Status != ocellus.VersionCopyingInProgress {
			return
		}
		v.Status, v.StatusMessage = ocellus.VersionCopyingFailed, "Copy failed: "+jobFailure(err)
		logErr("mark copy failed", c.store.UpdateVersion(ctx, v))
	case JobImport:
		d, gerr := c.store.Dataset(ctx, string(payload))
		if gerr != nil || d.Status != ocellus.DatasetCreateInProgress {
			return
		}
		logErr("clear failed dataset", c.store.ClearEntries(ctx, d.ARN))
		logErr("mark import failed", c.finishDataset(ctx, d, ocellus.DatasetCreateFailed, ocellus.StatusServiceError,
			"An internal error occurred while creating the dataset: "+jobFailure(err)))
	case JobUpdate:
		d, gerr := c.store.Dataset(ctx, string(payload))
		if gerr != nil || d.Status != ocellus.DatasetUpdateInProgress {
			return
		}
		logErr("mark update failed", c.finishDataset(ctx, d, ocellus.DatasetUpdateFailed, ocellus.StatusServiceError,
			"An internal error occurred while updating the dataset; its entries are unchanged: "+jobFailure(err)))
		logErr("drop update lines", c.store.EndDatasetUpdate(ctx, d.ARN))
	case JobTrainLookout:
		var j lookoutModelJob
		if json.Unmarshal(payload, &j) != nil {
			return
		}
		m, gerr := c.store.LookoutModel(ctx, j.Project, j.Version)
		if gerr != nil || m.Status != ModelTraining {
			return
		}
		m.Status, m.Message = ModelTrainingFailed, "The model could not be trained: "+jobFailure(err)
		logErr("mark model training failed", c.store.UpdateLookoutModel(ctx, m))
	case JobPackage:
		var p packagingJob
		if json.Unmarshal(payload, &p) != nil {
			return
		}
		j, gerr := c.store.PackagingJob(ctx, p.Project, p.Name)
		if gerr != nil || (j.Status != JobCreated && j.Status != JobRunning) {
			return
		}
		j.Status, j.Message, j.Updated = JobFailed, "The model could not be packaged: "+jobFailure(err), ocellus.Now(c.now)
		logErr("mark packaging failed", c.store.UpdatePackagingJob(ctx, j))
	}
}

// jobFailure is the status message part for a job's final error: the
// user-facing message of an *ocellus.Error, or the queue's own reason (a
// timeout, a panic, every attempt interrupted by a crash).
func jobFailure(err error) string {
	if ocellus.KindOf(err) != ocellus.Internal {
		return ocellus.MessageOf(err)
	}
	return err.Error()
}

// UseQueue makes the control plane enqueue its jobs on q. It is required:
// without a queue, calls that start work fail.
func (c *Control) UseQueue(q Queue) { c.queue = q }

// enqueue stores a job on the queue. key identifies the job for the
// queue's uniqueness (a key waiting or running is not added twice).
func (c *Control) enqueue(ctx context.Context, kind, key string, payload []byte) error {
	if c.queue == nil {
		return ocellus.Errorf(ocellus.Internal, "no job queue: the control plane cannot start %s jobs", kind)
	}
	return c.queue.Enqueue(ctx, kind, key, payload)
}

func (c *Control) enqueueVersion(ctx context.Context, kind, arn string) error {
	return c.enqueue(ctx, kind, arn, []byte(arn))
}

func (c *Control) enqueueImport(ctx context.Context, d *ocellus.Dataset) error {
	return c.enqueue(ctx, JobImport, d.ARN, []byte(d.ARN))
}

// enqueueUpdate keys the job by the time the update began (stored on the
// dataset until it ends), so that the next update of the same dataset is
// a new job even while the queue still holds the last one, and a sweep
// after restart finds the same key.
func (c *Control) enqueueUpdate(ctx context.Context, d *ocellus.Dataset) error {
	return c.enqueue(ctx, JobUpdate, d.ARN+"@"+strconv.FormatInt(d.Updated.UnixMilli(), 10), []byte(d.ARN))
}

func (c *Control) enqueueLookoutTraining(ctx context.Context, m *store.LookoutModel) error {
	p, _ := json.Marshal(lookoutModelJob{Project: m.ProjectARN, Version: m.Version})
	return c.enqueue(ctx, JobTrainLookout, m.ARN, p)
}

func (c *Control) enqueuePackaging(ctx context.Context, j *store.PackagingJob) error {
	p, _ := json.Marshal(packagingJob{Project: j.ProjectARN, Name: j.Name})
	return c.enqueue(ctx, JobPackage, j.ProjectARN+"/"+j.Name, p)
}

// hold calls Config.Hold (a test hook; nil in production).
func (c *Control) hold(ctx context.Context, kind, point string) {
	if c.holdFn != nil {
		c.holdFn(ctx, kind, point)
	}
}

// Recover runs at start-up, before the server answers: hosted models are
// loaded again (not a job: hosting lives in this process), then one sweep
// enqueues every resource left in progress. The queue holds a job for most
// of them already (it runs again what a crash interrupted); enqueue is
// unique by kind and key, so the sweep only adds the jobs of resources
// recorded just before a crash, before their job was stored.
func (c *Control) Recover(ctx context.Context) error {
	if err := c.recoverHosting(ctx); err != nil {
		return err
	}
	if l := c.lookout.Load(); l != nil {
		if err := l.recoverHosting(ctx); err != nil {
			return err
		}
	}
	return c.sweep(ctx)
}

// sweep enqueues a job for every resource in progress.
func (c *Control) sweep(ctx context.Context) error {
	vs, err := c.store.VersionsInState(ctx, ocellus.VersionTrainingInProgress, ocellus.VersionCopyingInProgress)
	if err != nil {
		return err
	}
	for _, v := range vs {
		kind := JobTrain
		if v.Status == ocellus.VersionCopyingInProgress {
			kind = JobCopy
		}
		if err := c.enqueueVersion(ctx, kind, v.ARN); err != nil {
			return err
		}
	}
	ds, err := c.store.DatasetsInProgress(ctx)
	if err != nil {
		return err
	}
	for _, d := range ds {
		switch d.Status {
		case ocellus.DatasetCreateInProgress:
			err = c.enqueueImport(ctx, d)
		case ocellus.DatasetUpdateInProgress:
			err = c.enqueueUpdate(ctx, d)
		}
		if err != nil {
			return err
		}
	}
	ms, err := c.store.LookoutModelsByStatus(ctx, ModelTraining)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := c.enqueueLookoutTraining(ctx, m); err != nil {
			return err
		}
	}
	js, err := c.store.PackagingJobsByStatus(ctx, JobCreated, JobRunning)
	if err != nil {
		return err
	}
	for _, j := range js {
		if err := c.enqueuePackaging(ctx, j); err != nil {
			return err
		}
	}
	c.log.Info("swept work in progress onto the job queue", "versions", len(vs), "datasets", len(ds), "lookout_models", len(ms), "packaging_jobs", len(js))
	return nil
}
