package control

import (
	"context"
	"fmt"

	"github.com/ocellus/ocellus/internal/ocellus"
)

// The control plane's life: background work, recovery at start, shutdown.

// background runs fn on the control plane's background context; Close
// cancels it and waits.
func (c *Control) background(fn func(ctx context.Context)) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn(c.bg)
	}()
}

// Recover restarts work that a previous process left in progress.
func (c *Control) Recover(ctx context.Context) error {
	ds, err := c.store.DatasetsInProgress(ctx)
	if err != nil {
		return err
	}
	if err := c.recoverVersions(ctx); err != nil {
		return err
	}
	for _, d := range ds {
		d := d
		switch d.Status {
		case ocellus.DatasetCreateInProgress:
			c.log.Info("resuming dataset import", "dataset", d.ARN)
			c.background(func(ctx context.Context) { c.runImport(ctx, d) })
		default:
			// An update's lines were only in memory: report it failed, with
			// the stored entries untouched.
			if err := c.finishDataset(ctx, d, ocellus.DatasetUpdateFailed, ocellus.StatusServiceError,
				fmt.Sprintf("The service restarted while the dataset was %s; its entries are unchanged. Send the update again.", d.Status)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close stops background work and hosted models, and waits for them.
func (c *Control) Close() error {
	c.closing.Store(true)
	c.cancel()
	c.wg.Wait()
	return c.pool.Close()
}
