package grants

import (
	"fmt"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/policy"
)

// checkSeen refuses a decision made on a version of req that did not yet
// show what waits for a decision now: an Approve pressed on a page, a
// Slack message or a terminal showing the pending request must not
// approve an extension asked for after it (and the same for a denial).
// Changes that leave the waiting decision as it was (a vend, another
// approver's approval) do not stale it. A decision naming no version
// (seen 0: an older client, a Slack button from before buttons carried one)
// is on the request as it was asked for, its first version: it decides a
// pending request and never an extension. A request with nothing waiting
// is left to the lifecycle, which names its state.
func checkSeen(req *api.Request, seen int64) error {
	if seen <= 0 {
		seen = 1
	}
	since := int64(1) // a pending request waits for its decision from its first version
	switch {
	case ExtensionWaiting(req):
		since = req.PendingExtension.Since
		if since == 0 { // stored before extensions recorded it: only the current version is known to show it
			since = req.Version
		}
	case req.State != api.StatePending:
		return nil
	}
	if seen >= since && seen <= req.Version {
		return nil
	}
	return &policy.ConflictError{
		Reason: fmt.Sprintf("the request changed since you looked (version %d, now %d): it now asks for %s", seen, req.Version, asksFor(req)),
		Hint:   "look again with jit show " + req.ID,
	}
}

// asksFor says what a decision on req would decide now.
func asksFor(req *api.Request) string {
	if x := req.PendingExtension; ExtensionWaiting(req) {
		return fmt.Sprintf("an extension of the live grant of %s for %s by %s (%d of %d approvals): %s",
			req.Role, req.Requester, api.FormatDuration(x.Duration()), len(x.Approvals), x.ApprovalsNeeded, x.Why)
	}
	return fmt.Sprintf("%s for %s, %s (%d of %d approvals)",
		req.Role, req.Requester, api.FormatDuration(req.Duration()), len(req.Approvals), req.ApprovalsNeeded)
}
