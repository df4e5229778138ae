// Package space keeps the data volume from filling up completely. A full
// volume would leave the service unable even to delete (SQLite needs a few
// free pages to commit a deletion), so writes are refused while the free
// space is below a reserve, and deletions, which free space, always have
// room to run.
package space

import (
	"fmt"
	"syscall"

	"github.com/ocellus/ocellus/internal/ocellus"
)

// Guard refuses writes that would leave less than Reserve bytes free on
// the volume holding Dir.
type Guard struct {
	Dir     string
	Reserve uint64
}

// DefaultReserve is the reserve for a volume of total bytes: 1% of it, at
// least 1 MiB and at most 32 MiB. It only has to let deletions commit (a few
// SQLite pages each), so it stays small: a shared volume with little free
// space must not lose much of it to the reserve.
func DefaultReserve(total uint64) uint64 {
	return min(max(total/100, 1<<20), 32<<20)
}

// New returns a guard for dir with the default reserve of its volume.
func New(dir string) (*Guard, error) {
	_, total, err := stat(dir)
	if err != nil {
		return nil, err
	}
	return &Guard{Dir: dir, Reserve: DefaultReserve(total)}, nil
}

// Free returns the bytes available to the service on the volume.
func (g *Guard) Free() (uint64, error) {
	free, _, err := stat(g.Dir)
	return free, err
}

// Check returns a QuotaExceeded error (the volume is the quota) wrapping syscall.ENOSPC when writing
// need more bytes would leave less than the reserve free. A nil Guard allows
// everything. Errors reading the volume's state are not refusals.
func (g *Guard) Check(need int64) error {
	if g == nil {
		return nil
	}
	free, err := g.Free()
	if err != nil {
		return nil
	}
	if need < 0 {
		need = 0
	}
	if free < g.Reserve+uint64(need) {
		return &ocellus.Error{Kind: ocellus.QuotaExceeded,
			Message: fmt.Sprintf("%s (%d bytes free, %d needed, %d kept in reserve so that deletions can run)", ocellus.DiskFullMessage, free, need, g.Reserve),
			Err:     syscall.ENOSPC}
	}
	return nil
}

func stat(dir string) (free, total uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, fmt.Errorf("space: %w", err)
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), nil
}
