package fedapi

import (
	"testing"

	"github.com/hotline-net/hotline/internal/refusal/refusaltest"
)

// TestEveryCodeHasStatus: every refusal the packages behind the peer API
// declare has a status of its own: none reaches a caller as 500 because
// the map forgot it.
func TestEveryCodeHasStatus(t *testing.T) {
	refusaltest.CheckEveryCode(t, Status, 30, "../..", "../../agreement", "../node", "../relay", "../gossip", "../chain", "../refusal", ".")
}

// TestStoreSentinelsNotInternal: a store's answer that reaches the API,
// wrapped as the node wraps it, is a refusal with its own status.
func TestStoreSentinelsNotInternal(t *testing.T) {
	refusaltest.CheckStoreSentinels(t, Status)
}
