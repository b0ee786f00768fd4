package sqlstore

import (
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

// FailWhileExistsEvery is how long [FailWhileExists] trusts what it last
// found: a write transaction costs a stat of the file at most this often.
const FailWhileExistsEvery = 100 * time.Millisecond

// FailWhileExists returns a [Config.FailWrites] hook that fails every write
// transaction while a file exists at path, with an error that wraps
// ENOSPC — as a full disk would, so that the store reports it as
// [store.ErrStorageFull] — and lets them through once the file is gone.
// It looks at the file at most every [FailWhileExistsEvery]. A
// fault-injection hook for tests (hotline serve reads
// HOTLINE_FAULT_STORE_FULL); never set in production.
func FailWhileExists(path string) func() error {
	var (
		mu      sync.Mutex
		checked time.Time
		exists  bool
	)
	return func() error {
		mu.Lock()
		now := time.Now()
		if checked.IsZero() || now.Sub(checked) >= FailWhileExistsEvery {
			_, err := os.Stat(path)
			exists, checked = err == nil, now
		}
		failing := exists
		mu.Unlock()
		if failing {
			return fmt.Errorf("fault injection: %s exists: %w", path, syscall.ENOSPC)
		}
		return nil
	}
}
