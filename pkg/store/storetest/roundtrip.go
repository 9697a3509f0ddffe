package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

// fullRequest returns a request with every field set to a value that is not
// its zero value, times in a zone east of UTC and with nanoseconds, and text
// that stresses encodings (quotes, escapes, non-ASCII, NUL, newlines).
func fullRequest(id string, shift time.Duration) *api.Request {
	zone := time.FixedZone("IST", 5*3600+1800)
	at := func(d time.Duration) time.Time { return t0.Add(shift + d).In(zone) }
	return &api.Request{
		ID: id, Requester: "ä.lice+jit@example.com", Role: "prod-admin/eu",
		Reason:          "fix \"prod\" \\ ✓ 漢字\n\tline\x00after-nul <&>",
		Ticket:          "OPS-" + id,
		Agent:           "claude-code",
		Manager:         "Märta.manager@example.com",
		DurationSeconds: 5400 + int64(shift/time.Second),
		State:           api.StateActive,
		BreakGlass:      true,
		AutoApproved:    true,
		Approvals: []api.Decision{
			{By: "bob@example.com", Issuer: "https://idp.example.com", Subject: "u-bob", Email: "bob@example.com", Approve: true, Comment: "ok 👍", At: at(time.Minute + 1)},
			{By: "carol@example.com", Approve: true, Comment: "", At: at(2*time.Minute + 999)},
		},
		ApprovalsNeeded: 2,
		Denial:          &api.Decision{By: "dave@example.com", Approve: false, Comment: "recorded then overruled", At: at(90 * time.Second)},
		CreatedAt:       at(0),
		UpdatedAt:       at(3*time.Minute + 7),
		PendingUntil:    at(time.Hour + 1),
		StartsAt:        at(2*time.Minute + 999),
		EndsAt:          at(2*time.Minute + 999 + 90*time.Minute),
		Extensions:      3,
		EndedBy:         "erin@example.com",
		EndReason:       "done",
		VendCount:       7,
		Version:         42, // Create sets 1
		PendingExtension: &api.Extension{DurationSeconds: 1800, Reason: "still ✓", RequestedAt: at(4 * time.Minute),
			ApprovalsNeeded: 2, Approvals: []api.Decision{{By: "bob@example.com", Approve: true, At: at(5*time.Minute + 3)}},
			Why: "past break_glass.max_duration"},

		RequesterIssuer:  "https://idp.example.com",
		RequesterSubject: "u-älice",
		RequesterEmail:   "ä.lice+jit@example.com",
		Target:           &api.GrantTarget{Kind: "ldap_group", Spec: []byte(`{"kind":"ldap_group","ldap":{"group":"cn=ops,dc=example,dc=org"}}`)},
		ReviewRequired:   true,
		Review:           &api.Review{By: "frank@example.com", Verdict: api.VerdictConcern, Note: "no ticket ✓", At: at(4*time.Hour + 3)},
		// The server keeps activity apart and fills it in responses; a
		// body that carries it must still round-trip.
		Activity: &api.Activity{Calls: 3, Errors: 1, FirstUse: at(5 * time.Minute), LastUse: at(6*time.Minute + 11),
			Actions: []api.ActionCount{{Action: "s3:GetObject", Calls: 2}, {Action: "iam:CreateUser", Calls: 1}}, OtherCalls: 4},
	}
}

// inUTC is what a store must give back for r: the same request with every
// time in UTC.
func inUTC(r *api.Request) *api.Request {
	c := *r
	c.Approvals = append([]api.Decision(nil), r.Approvals...)
	if r.Denial != nil {
		d := *r.Denial
		c.Denial = &d
	}
	for _, p := range []*time.Time{&c.CreatedAt, &c.UpdatedAt, &c.PendingUntil, &c.StartsAt, &c.EndsAt} {
		*p = p.UTC()
	}
	for i := range c.Approvals {
		c.Approvals[i].At = c.Approvals[i].At.UTC()
	}
	if c.Denial != nil {
		c.Denial.At = c.Denial.At.UTC()
	}
	if r.PendingExtension != nil {
		x := *r.PendingExtension
		x.RequestedAt = x.RequestedAt.UTC()
		x.Approvals = append([]api.Decision(nil), x.Approvals...)
		for i := range x.Approvals {
			x.Approvals[i].At = x.Approvals[i].At.UTC()
		}
		c.PendingExtension = &x
	}
	if r.Review != nil {
		rv := *r.Review
		rv.At = rv.At.UTC()
		c.Review = &rv
	}
	if r.Activity != nil {
		a := *r.Activity
		a.Actions = append([]api.ActionCount(nil), a.Actions...)
		a.FirstUse, a.LastUse = a.FirstUse.UTC(), a.LastUse.UTC()
		c.Activity = &a
	}
	return &c
}

// nonZeroFields fails unless every field of r is set, so a field added to
// api.Request later is covered here too (set it in fullRequest).
func nonZeroFields(t *testing.T, r *api.Request) {
	t.Helper()
	v := reflect.ValueOf(r).Elem()
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Fatalf("fullRequest leaves api.Request.%s unset: give it a value so its round trip is checked", v.Type().Field(i).Name)
		}
	}
}

func sameRequest(t *testing.T, how string, got, want *api.Request) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s does not round-trip:\n got %#v\nwant %#v", how, got, want)
	}
	for name, tm := range map[string]time.Time{"CreatedAt": got.CreatedAt, "UpdatedAt": got.UpdatedAt,
		"PendingUntil": got.PendingUntil, "StartsAt": got.StartsAt, "EndsAt": got.EndsAt} {
		if tm.Location() != time.UTC {
			t.Errorf("%s: %s is in %v, want UTC", how, name, tm.Location())
		}
	}
}

func testRoundTrip(t *testing.T, s store.Store) {
	in := fullRequest("rt-1", 0)
	nonZeroFields(t, in)
	want := inUTC(in)
	want.Version = 1
	if err := s.Create(ctx(t), in, []audit.Event{CreatedEvent(in)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx(t), "rt-1")
	if err != nil {
		t.Fatal(err)
	}
	sameRequest(t, "Create then Get", got, want)

	// Every field changed by a mutation is stored too, and Update returns
	// exactly what Get then reads.
	next := fullRequest("rt-1", 17*time.Minute+3)
	next.Requester, next.Role, next.State = "other@example.com", "ops", api.StateRevoked
	next.Reason, next.Ticket, next.EndedBy, next.EndReason = "second", "INC-9", "frank", "incident"
	next.BreakGlass, next.AutoApproved = false, false
	next.Approvals = next.Approvals[:1]
	next.Denial = nil
	next.ApprovalsNeeded, next.Extensions, next.VendCount = 1, 0, 0
	next.StartsAt, next.EndsAt = time.Time{}, time.Time{} // zero times stay zero
	updated, err := s.Update(ctx(t), "rt-1", func(r *api.Request) ([]audit.Event, error) {
		v := r.Version
		*r = *next
		r.Version = v
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want = inUTC(next)
	want.Version = 2
	sameRequest(t, "Update's result", updated, want)
	got, err = s.Get(ctx(t), "rt-1")
	if err != nil {
		t.Fatal(err)
	}
	sameRequest(t, "Update then Get", got, want)
	if !got.StartsAt.IsZero() || !got.EndsAt.IsZero() {
		t.Errorf("zero times came back as %v, %v", got.StartsAt, got.EndsAt)
	}

	// List decodes the same bodies.
	page, _, err := s.List(ctx(t), store.Filter{Requester: "other@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 1 {
		t.Fatalf("List found %d requests, want 1", len(page))
	}
	sameRequest(t, "List", &page[0], want)
}
