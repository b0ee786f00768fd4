package node

import (
	"github.com/hotline-net/hotline"
	"github.com/hotline-net/hotline/agreement"
)

// checkRecipients refuses an envelope whose header names a recipient that
// is not a party to the agreement version v it was sent under, or a group
// label its recipients do not match: every member of the group but the
// sender must be a recipient, under some version of the agreement the node
// holds (a sender expands a group under the newest version it is bound
// by, which may be newer than the version governing the message). A
// sender's own node never seals either (see Send); a hostile one could,
// to mislead the recipient about who else was told.
func checkRecipients(agr *agreement.Agreement, v *agreement.Version, h *hotline.Header) error {
	to := make(map[string]bool, len(h.Recipients))
	for _, r := range h.Recipients {
		if _, err := v.Party(r.Party); err != nil {
			return hotline.Errorf(ErrUnknownRecipient, "recipient %s is not a party to agreement version %d", r.Party, v.Number())
		}
		to[r.Party] = true
	}
	if h.Group == "" {
		return nil
	}
	var missing string
	for _, u := range agr.Versions() {
		members, err := u.Expand(h.Group)
		if err != nil {
			continue
		}
		missing = ""
		for _, m := range members {
			if m != h.From && !to[m] {
				missing = m
				break
			}
		}
		if missing == "" {
			return nil
		}
	}
	if missing == "" {
		return hotline.Errorf(ErrUnknownRecipient, "group %q is not a group of the agreement", h.Group)
	}
	return hotline.Errorf(ErrUnknownRecipient, "the envelope is labelled group %q but %s, a member, is not a recipient", h.Group, missing)
}
