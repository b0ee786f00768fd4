//go:build !unix

package sqlite

import (
	"fmt"
	"os"
)

// lockFile opens (creating) path. Without flock, a second process is kept
// out only by SQLite's own locking.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock file: %w", err)
	}
	return f, nil
}
