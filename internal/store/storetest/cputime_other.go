//go:build !unix

package storetest

import "time"

// cpuTime returns 0 where getrusage is missing: no CPU figure is reported.
func cpuTime() time.Duration { return 0 }

// CPUTime returns 0 where getrusage is missing: no CPU figure is reported.
func CPUTime() time.Duration { return 0 }
