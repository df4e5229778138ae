package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"
)

// rescue makes the jobs that a previous process left running (the ones
// orphaned selects) available again before this process starts working.
//
// River has a rescuer of its own, but it only touches a job once it has been
// running for RescueStuckJobsAfter, which must exceed the longest job
// timeout (an hour here): without this, training interrupted by a crash
// would resume only hours after the restart. River's client API offers
// nothing for running jobs (JobRetry skips them), so this uses the driver
// operations River's rescuer is built on, which work on both databases.
//
// A rescued job keeps the attempt the crash spent, so that work which itself
// kills the process cannot crash-loop it forever: with no attempts left it is
// discarded and reported to OnFailed with ErrInterrupted.
func (q *Queue) rescue(ctx context.Context, exec riverdriver.Executor, orphaned func(*rivertype.JobRow) bool) error {
	now := time.Now().UTC()
	// Every running job was attempted before now; the margin absorbs the
	// rounding of stored timestamps.
	horizon := now.Add(time.Minute)
	var afterID int64
	for {
		const batch = 100
		stuck, err := exec.JobGetStuck(ctx, &riverdriver.JobGetStuckParams{AfterID: afterID, Max: batch, StuckHorizon: horizon})
		if err != nil {
			return fmt.Errorf("jobs: rescue: %w", err)
		}
		p := riverdriver.JobRescueManyParams{StuckHorizon: horizon}
		for _, job := range stuck {
			afterID = job.ID
			if !orphaned(job) {
				continue
			}
			state, finalized := rivertype.JobStateAvailable, (*time.Time)(nil)
			msg := "jobs: interrupted by process exit; run again at restart"
			if job.Attempt >= job.MaxAttempts {
				state, finalized = rivertype.JobStateDiscarded, &now
				msg = ErrInterrupted.Error()
				var a jobArgs
				if err := json.Unmarshal(job.EncodedArgs, &a); err != nil {
					return fmt.Errorf("jobs: rescue job %d: %w", job.ID, err)
				}
				// Before the update, so that a crash in between reports it
				// again rather than never.
				q.failed(ctx, a, ErrInterrupted)
			}
			e, err := json.Marshal(rivertype.AttemptError{At: now, Attempt: job.Attempt, Error: msg})
			if err != nil {
				return err
			}
			q.log.InfoContext(ctx, "jobs: rescued a job left running by a previous process",
				"job_id", job.ID, "attempt", job.Attempt, "state", state)
			p.ID = append(p.ID, job.ID)
			p.Error = append(p.Error, e)
			p.FinalizedAt = append(p.FinalizedAt, finalized)
			p.ScheduledAt = append(p.ScheduledAt, now)
			p.State = append(p.State, string(state))
		}
		if len(p.ID) > 0 {
			if _, err := exec.JobRescueMany(ctx, &p); err != nil {
				return fmt.Errorf("jobs: rescue: %w", err)
			}
		}
		if len(stuck) < batch {
			return nil
		}
	}
}
