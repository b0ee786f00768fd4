//go:build !unix

package obligations

import "time"

// cpuTime returns 0 where getrusage is missing: no CPU figure is reported.
func cpuTime() time.Duration { return 0 }
