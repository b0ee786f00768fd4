package chain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
	"github.com/hotline-net/hotline/internal/store"
)

// DocumentsKey is the store value under which the depositary's node keeps
// the log index of each agreement document it logged: a JSON object from
// the document's hash (hex) to its index.
const DocumentsKey = "agreement.logged"

// LogDocuments appends to the depositary's log a 0x04 entry for every
// document of agr it has not logged yet, and records their indexes under
// DocumentsKey. The appends run together, so that they share batches. A
// crash between the appends and the record logs them again next time: a
// document may appear twice in the log, never not at all.
func LogDocuments(ctx context.Context, st store.Store, log Log, agr *agreement.Agreement, logger *slog.Logger) error {
	logged, err := LoggedDocuments(ctx, st)
	if err != nil {
		return err
	}
	var todo []hotline.ID
	for _, h := range agr.DocumentHashes() {
		if _, ok := logged[h]; !ok {
			todo = append(todo, h)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	index := make([]uint64, len(todo))
	errs := make([]error, len(todo))
	var wg sync.WaitGroup
	for i, h := range todo {
		wg.Go(func() {
			index[i], errs[i] = log.Append(ctx, hotline.LeafEntry(log.Origin(), hotline.AgreementDocument, h))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	out := make(map[string]uint64, len(logged)+len(todo))
	for h, i := range logged {
		out[h.String()] = i
	}
	for i, h := range todo {
		out[h.String()] = index[i]
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	if logger != nil {
		logger.Info("logged agreement documents", "new", len(todo), "total", len(out))
	}
	return st.SetValue(ctx, DocumentsKey, b)
}

// LoggedDocuments returns the log index of each agreement document the
// depositary's node logged, by the document's hash.
func LoggedDocuments(ctx context.Context, st store.Store) (map[hotline.ID]uint64, error) {
	out := map[hotline.ID]uint64{}
	b, err := st.Value(ctx, DocumentsKey)
	if errors.Is(err, store.ErrNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	var m map[string]uint64
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("the logged agreement documents: %w", err)
	}
	for k, i := range m {
		h, err := hotline.ParseID(k)
		if err != nil {
			return nil, fmt.Errorf("the logged agreement documents: %w", err)
		}
		out[h] = i
	}
	return out, nil
}
