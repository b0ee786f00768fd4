//go:build unix

package storetest

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time (user and system) this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// CPUTime returns the CPU time (user and system) this process used so far,
// or 0 where the system does not say: benchmarks report it next to the
// wall time, which a shared machine stretches.
func CPUTime() time.Duration { return cpuTime() }
