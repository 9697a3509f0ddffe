package store

import (
	"time"

	"github.com/jit-access/jit/pkg/api"
)

// NormalizeTimes puts every time in r in UTC and drops monotonic clock
// readings, which is how a store keeps them: a stored request reads back
// exactly as it was written, whatever zone the caller's clock used.
func NormalizeTimes(r *api.Request) {
	for _, t := range []*time.Time{&r.CreatedAt, &r.UpdatedAt, &r.PendingUntil, &r.StartsAt, &r.EndsAt} {
		*t = utc(*t)
	}
	for i := range r.Approvals {
		r.Approvals[i].At = utc(r.Approvals[i].At)
	}
	if r.Denial != nil {
		d := *r.Denial // the caller's Decision is not ours to change
		d.At = utc(d.At)
		r.Denial = &d
	}
	if r.PendingExtension != nil {
		x := *r.PendingExtension // the caller's, like Denial
		x.RequestedAt = utc(x.RequestedAt)
		x.Approvals = append([]api.Decision(nil), x.Approvals...)
		for i := range x.Approvals {
			x.Approvals[i].At = utc(x.Approvals[i].At)
		}
		r.PendingExtension = &x
	}
	if r.Review != nil {
		rv := *r.Review
		rv.At = utc(rv.At)
		r.Review = &rv
	}
	if r.Activity != nil {
		a := *r.Activity
		a.FirstUse, a.LastUse = utc(a.FirstUse), utc(a.LastUse)
		r.Activity = &a
	}
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Round(0).UTC()
}
