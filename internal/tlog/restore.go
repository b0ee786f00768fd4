package tlog

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Restoring a log from a backup. A log restored from an old backup holds
// fewer entries than the checkpoints its witnesses cosigned ([ErrRewound]).
// The caller finds the largest of those checkpoints ([FetchCosigned] from
// each witness), appends the missing entries in order (it knows them from
// elsewhere: the node's peers hold receipts naming each entry's index), and
// checks the result against every cosigned checkpoint ([Log.Matches]) — with
// a Log opened without a Policy, so that no witness stops it meanwhile.

// Size returns the number of entries sequenced in the log, published in a
// checkpoint or not.
func (l *Log) Size(ctx context.Context) (uint64, error) {
	return l.reader.IntegratedSize(ctx)
}

// FetchCosigned fetches, from the witness whose tlog-witness prefix is url,
// the latest checkpoint of the log it cosigned (C2SP tlog-witness monitor
// retrieval, GET <url>/<SHA-256 of the origin>/checkpoint), and returns it
// once the log's signature (logKey) and the witness's cosignature
// (witnessKey, a cosignature/v1 verifier) verify.
func FetchCosigned(ctx context.Context, client *http.Client, url string, logKey, witnessKey note.Verifier) (Checkpoint, error) {
	if client == nil {
		client = http.DefaultClient
	}
	// The collector's own retrieval, on a log that holds only the keys.
	w := &witnessing{l: &Log{cfg: Config{HTTPClient: client, WitnessTimeout: DefaultWitnessTimeout}, origin: logKey.Name(), verifier: logKey}}
	return w.view(ctx, &witnessClient{url: url, v: witnessKey})
}

// Matches checks the log against cp, a checkpoint of it signed elsewhere
// (one a witness cosigned): it waits, until ctx ends, for a published
// checkpoint at least as large, and returns nil if the tree of cp's size
// has cp's root, an error wrapping [ErrRewound] otherwise.
func (l *Log) Matches(ctx context.Context, cp Checkpoint) error {
	if cp.Origin != l.origin {
		return fmt.Errorf("checkpoint of %q, not of %q", cp.Origin, l.origin)
	}
	for {
		pub, err := l.Checkpoint()
		if err == nil && pub.Size >= cp.Size {
			root, err := rootAt(ctx, l.reader.ReadTile, pub.Size, pub.Hash, cp.Size)
			if err != nil {
				return fmt.Errorf("the root of %s at size %d: %w", l.origin, cp.Size, err)
			}
			if root != cp.Hash {
				return fmt.Errorf("%s at size %d differs from the checkpoint cosigned: %w", l.origin, cp.Size, ErrRewound)
			}
			return nil
		}
		// Not published yet: wait for Tessera's next checkpoint.
		_, changed := l.current()
		t := time.NewTimer(l.cfg.CheckpointInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			if pub.Size < cp.Size {
				return fmt.Errorf("%s has %d entries published, the checkpoint cosigned %d: %w", l.origin, pub.Size, cp.Size, ErrRewound)
			}
			return ctx.Err()
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}
