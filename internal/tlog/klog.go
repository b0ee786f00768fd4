package tlog

import (
	"log/slog"

	"k8s.io/klog/v2"
)

// RouteKlog sends everything Tessera logs through klog (which is
// process-wide) to logger. The node's main calls it once at start-up; a
// library never does. Messages at klog verbosity above 0 stay off unless
// klog's -v flag is raised.
func RouteKlog(logger *slog.Logger) {
	klog.SetSlogLogger(logger)
}
