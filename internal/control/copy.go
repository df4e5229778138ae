package control

import (
	"context"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/policy"
)

// CopyVersionInput copies a trained model version into a project of the
// caller's, possibly from another account.
type CopyVersionInput struct {
	SourceProjectARN string
	SourceVersionARN string
	DestProjectARN   string
	Name             string
	OutputBucket     string
	OutputPrefix     string
	KmsKeyID         string
	Tags             map[string]string
}

// copyAction is the IAM action a project policy must allow for a copy
// from another account.
const copyAction = "rekognition:CopyProjectVersion"

// CopyProjectVersion starts copying a model version. Within one account no
// policy is needed; from another account a project policy on the source
// project must allow the caller's account rekognition:CopyProjectVersion
// on the source version, and no policy may deny it.
func (c *Control) CopyProjectVersion(ctx context.Context, account string, in CopyVersionInput) (*ocellus.ProjectVersion, error) {
	dst, err := c.project(ctx, account, in.DestProjectARN)
	if err != nil {
		return nil, err
	}
	if err := refuseModerationProject(dst, "CopyProjectVersion"); err != nil {
		return nil, err
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	if _, err := c.resolveKey(in.KmsKeyID); err != nil {
		return nil, err
	}
	srcARN, err := ocellus.ParseARN(in.SourceProjectARN)
	if err != nil {
		return nil, err
	}
	if srcARN.Region != c.region {
		return nil, ocellus.Errorf(ocellus.Invalid, "The source project must be in this region (%s).", c.region)
	}
	src, err := c.store.Project(ctx, in.SourceProjectARN)
	if err != nil || src.Service != ocellus.Rekognition {
		if srcARN.Account != account {
			// Another account learns nothing about what exists there.
			return nil, ocellus.Errorf(ocellus.AccessDenied, "User: arn:aws:iam::%s:root is not authorized to perform: %s on resource: %s", account, copyAction, in.SourceVersionARN)
		}
		return nil, ocellus.Errorf(ocellus.NotFound, "The project %s does not exist.", in.SourceProjectARN)
	}
	if src.Account != account {
		allowed, err := c.policyAllows(ctx, src.ARN, account, copyAction, in.SourceVersionARN)
		if err != nil {
			return nil, err
		}
		if !allowed {
			return nil, ocellus.Errorf(ocellus.AccessDenied, "User: arn:aws:iam::%s:root is not authorized to perform: %s on resource: %s because no project policy allows it", account, copyAction, in.SourceVersionARN)
		}
	}
	if err := refuseModerationProject(src, "CopyProjectVersion"); err != nil {
		return nil, err
	}
	sv, err := c.store.Version(ctx, in.SourceVersionARN)
	if err != nil || sv.ProjectARN != src.ARN {
		return nil, ocellus.Errorf(ocellus.NotFound, "The model version %s does not exist in project %s.", in.SourceVersionARN, src.ARN)
	}
	if !sv.Status.Trained() || sv.Artifact == "" {
		return nil, ocellus.Errorf(ocellus.InUse, "The model version %s is %s; only trained versions can be copied.", sv.ARN, sv.Status)
	}
	now := ocellus.Now(c.now)
	v := &ocellus.ProjectVersion{ARN: ocellus.VersionARN(dst, in.Name, now), ProjectARN: dst.ARN, Account: account, Name: in.Name,
		Description: sv.Description, Status: ocellus.VersionCopyingInProgress,
		StatusMessage: ocellus.VersionCopyingInProgress.Message(), Created: now, OutputBucket: in.OutputBucket,
		OutputPrefix: in.OutputPrefix, KmsKeyID: in.KmsKeyID, SourceVersionARN: sv.ARN, Kind: sv.Kind, F1: sv.F1}
	if err := c.createVersion(ctx, v, dst.Name, in.Tags, JobCopy); err != nil {
		return nil, err
	}
	return v, nil
}

// policyAllows evaluates every policy of a project as one document.
func (c *Control) policyAllows(ctx context.Context, projectARN, account, action, resource string) (bool, error) {
	ps, err := c.store.ListPolicies(ctx, projectARN, "", 0)
	if err != nil {
		return false, err
	}
	all := &policy.Document{}
	for _, p := range ps {
		d, err := policy.Parse(p.Document)
		if err != nil {
			continue // stored documents were validated; a bad one grants nothing
		}
		all.Statements = append(all.Statements, d.Statements...)
	}
	return all.Allows(account, action, resource), nil
}

// copyVersion runs a copy job: the artifact becomes the copy's own file,
// and the evaluation summary is written to the copy's output location.
func (c *Control) copyVersion(ctx context.Context, arn string) error {
	v, err := c.store.Version(ctx, arn)
	if err != nil {
		if ocellus.KindOf(err) == ocellus.NotFound {
			return nil
		}
		return err
	}
	if v.Status != ocellus.VersionCopyingInProgress {
		return nil
	}
	c.hold(ctx, JobCopy, HoldAfterLoad)
	sv, err := c.store.Version(ctx, v.SourceVersionARN)
	if err == nil {
		err = c.copyArtifact(ctx, sv, v)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	c.hold(ctx, JobCopy, HoldBeforeSave)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		v.Status, v.StatusMessage = ocellus.VersionCopyingFailed, "Copy failed: "+ocellus.MessageOf(err)
		c.log.Info("copy failed", "version", arn, "err", err)
	} else {
		v.Status, v.StatusMessage = ocellus.VersionCopyingCompleted, "The model version was copied."
	}
	v.TrainingEnd = sv0(sv).TrainingEnd
	return c.store.UpdateVersion(context.WithoutCancel(ctx), v)
}

func sv0(v *ocellus.ProjectVersion) *ocellus.ProjectVersion {
	if v == nil {
		return &ocellus.ProjectVersion{}
	}
	return v
}

func (c *Control) copyArtifact(ctx context.Context, sv, v *ocellus.ProjectVersion) error {
	// Re-encrypted under the copy's own key.
	plain, err := c.readArtifact(ctx, sv)
	if err != nil {
		return err
	}
	rel, err := c.writeSealed(ctx, v, plain)
	if err != nil {
		return err
	}
	v.Artifact = rel
	if sv.EvaluationResult != nil {
		// The source's summary is read as the source account (the copy
		// was authorised) and written as the destination account; one
		// that cannot be read (or is over maxSummaryBytes) is not copied.
		body, _, err := c.blobs.ReadAll(ctx, sv.Account, sv.EvaluationResult.Bucket, sv.EvaluationResult.Key, "", maxSummaryBytes)
		if err == nil {
			key := v.OutputPrefix
			if key != "" && key[len(key)-1] != '/' {
				key += "/"
			}
			key += "EvaluationResultSummary-" + v.Name + "-copy.json"
			if err := c.putOutput(ctx, v, key, body); err != nil {
				return err
			}
			v.EvaluationResult = &ocellus.S3Location{Bucket: v.OutputBucket, Key: key}
		}
	}
	return nil
}

// maxSummaryBytes bounds the evaluation summary a copy reads (the service
// writes a few KB).
const maxSummaryBytes = 16 << 20
