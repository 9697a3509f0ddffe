package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

// testListByPrincipal: "my requests" select by (issuer, subject), never by
// name; rows stored before principals existed (no issuer/subject) are
// added when their requester name is one of LegacyRequesters, compared
// ignoring the case of ASCII letters only (api.SameName). A same-named requester of another principal, or of
// another issuer, is never included.
func testListByPrincipal(t *testing.T, s store.Store) {
	const iss, other = "https://idp.example.com", "https://other.example.com"
	rows := []struct {
		id, requester, iss, sub string
	}{
		{"p1", "alice@example.com", iss, "u-alice"},
		{"p2", "u-alice", iss, "u-alice"},                   // the same person with an email-less token
		{"p3", "alice@example.com", iss, "u-mallory"},       // another person who shows the same name
		{"p4", "alice@example.com", other, "u-alice"},       // the same subject at another issuer
		{"legacy-email", "Alice@Example.com", "", ""},       // stored before principals, by email
		{"legacy-other", "bob@example.com", "", ""},         // someone else's old row
		{"legacy-kate", "kate@example.com", "", ""},         // kate's old row: not \u212aate's (KELVIN SIGN)
		{"legacy-kelvin", "\u212aate@example.com", "", ""},  // and the lookalike's old row is not kate's
		{"legacy-sub", "alice@example.com", iss, "u-carol"}, // a principal row is never legacy
	}
	for i, r := range rows {
		req := NewRequest(r.id, r.requester, "dev", t0.Add(time.Duration(i)*time.Second))
		req.RequesterIssuer, req.RequesterSubject = r.iss, r.sub
		if err := s.Create(ctx(t), req, []audit.Event{CreatedEvent(req)}); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(f store.Filter) []string {
		t.Helper()
		page, _, err := s.List(ctx(t), f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range page {
			out = append(out, r.ID)
		}
		slices.Sort(out)
		return out
	}
	for _, tc := range []struct {
		f    store.Filter
		want []string
	}{
		{store.Filter{RequesterIssuer: iss, RequesterSubject: "u-alice"}, []string{"p1", "p2"}},
		{store.Filter{RequesterIssuer: iss, RequesterSubject: "u-alice", LegacyRequesters: []string{"alice@example.com"}}, []string{"legacy-email", "p1", "p2"}},
		{store.Filter{RequesterIssuer: other, RequesterSubject: "u-alice"}, []string{"p4"}},
		{store.Filter{RequesterIssuer: iss, RequesterSubject: "u-nobody", LegacyRequesters: []string{"nobody"}}, nil},
		// Only ASCII letters fold: Unicode folding takes U+212A for k.
		{store.Filter{RequesterIssuer: iss, RequesterSubject: "u-kelvin", LegacyRequesters: []string{"\u212aate@example.com"}}, []string{"legacy-kelvin"}},
		{store.Filter{RequesterIssuer: iss, RequesterSubject: "u-kate", LegacyRequesters: []string{"Kate@example.com"}}, []string{"legacy-kate"}},
	} {
		if got := ids(tc.f); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("List(%+v) = %v, want %v", tc.f, got, tc.want)
		}
	}
	// The filter combines with the others and pages.
	if got := ids(store.Filter{RequesterIssuer: iss, RequesterSubject: "u-alice", LegacyRequesters: []string{"alice@example.com"},
		States: []api.State{api.StatePending}, Limit: 1}); len(got) != 1 {
		t.Errorf("one page of one: %v", got)
	}
}
