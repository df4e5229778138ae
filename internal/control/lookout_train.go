package control

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/vision/anomaly"
)

// Lookout for Vision training: one run of the anomaly engine for a model
// in TRAINING, its artifact sealed into the artifact store.

// trainModelJob is the train-lookout-model job: it trains a TRAINING
// model from scratch and saves the outcome. A shutdown leaves it TRAINING
// and the queue runs the job again.
func (l *Lookout) trainModelJob(ctx context.Context, j lookoutModelJob) error {
	m, err := l.c.store.LookoutModel(ctx, j.Project, j.Version)
	if err != nil {
		if ocellus.KindOf(err) == ocellus.NotFound {
			return nil
		}
		return err
	}
	if m.Status != ocellus.ModelTraining {
		return nil
	}
	select {
	case l.slot <- struct{}{}:
		defer func() { <-l.slot }()
	case <-ctx.Done():
		return ctx.Err()
	}
	l.c.hold(ctx, JobTrainLookout, HoldAfterLoad)
	err = l.train(ctx, m)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	l.c.hold(ctx, JobTrainLookout, HoldBeforeSave)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		msg := ocellus.MessageOf(err)
		var fail *trainingFailure
		if errors.As(err, &fail) {
			msg = fail.msg
		} else {
			l.c.log.Error("model training", "model", m.ARN, "err", err)
		}
		m.Status, m.StatusMessage = ocellus.ModelTrainingFailed, msg
	}
	return l.c.store.UpdateLookoutModel(ctx, m)
}

// trainingFailure is a problem with the user's data, told to the user as
// the model's status message.
type trainingFailure struct{ msg string }

func (f *trainingFailure) Error() string { return f.msg }

func failf(format string, args ...any) error { return &trainingFailure{fmt.Sprintf(format, args...)} }

func (l *Lookout) train(ctx context.Context, m *ocellus.Model) error {
	p, err := l.c.store.Project(ctx, m.ProjectARN)
	if err != nil {
		return err
	}
	ts, err := l.collect(ctx, p)
	if err != nil {
		return failf("%s", ocellus.MessageOf(err))
	}
	train, badTrain, err := l.loadExamples(ctx, m.Account, "train", ts.train)
	if err != nil {
		return err
	}
	test, badTest, err := l.loadExamples(ctx, m.Account, "test", ts.test)
	if err != nil {
		return err
	}
	excluded := append(badTrain, badTest...)
	t0 := time.Now()
	model, ev, err := anomaly.Train(ctx, anomaly.TrainConfig{Backbone: l.bb, Train: train, Calibration: test, Seed: l.cfg.Seed, Logger: l.c.log})
	if err != nil {
		var se *anomaly.ImageSizeError
		if errors.As(err, &se) {
			return failf("%v.", se)
		}
		return err
	}
	defer model.Close()
	l.c.log.Info("model trained", "model", m.ARN, "took", time.Since(t0).Round(time.Millisecond), "f1", ev.F1, "auroc", ev.AUROC)
	data, err := model.MarshalBinary()
	if err != nil {
		return err
	}
	// Sealed with the model's KmsKeyId (the service-managed key when none
	// was given), in the artifact store Custom Labels uses.
	rel, err := l.c.arts.Put(ctx, m.ARN, m.KmsKeyID, data)
	if err != nil {
		return err
	}
	end := ocellus.Now(l.c.now)
	if m.OutputBucket != "" {
		if err := l.writeEvaluation(ctx, m, p, ev, model.Meta(), end, len(train), len(test), excluded); err != nil {
			if derr := l.c.arts.Delete(ctx, rel); derr != nil {
				l.c.log.Error("remove model artifact", "model", m.ARN, "err", derr)
			}
			return err
		}
	}
	m.Artifact = rel
	m.HasPerformance, m.F1, m.Recall, m.Precision = true, finite(ev.F1), finite(ev.Recall), finite(ev.Precision)
	m.EvaluationEnd = end
	m.Status, m.StatusMessage = ocellus.ModelTrained, ocellus.ModelTrained.Message()
	return nil
}

func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}
