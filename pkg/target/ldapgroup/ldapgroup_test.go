package ldapgroup_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/target"
	"github.com/jit-access/jit/pkg/target/ldapgroup"
)

// roles parses an ldap_group policy with the roles ops (member_dn) and
// ops-search (member_search), both on group ops.
func roles(t *testing.T, extra string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse("ldap-test.yaml", []byte(`roles:
  - name: ops
    kind: ldap_group
    ldap:
      group: `+testenv.LDAPGroupDN("ops")+`
      member_dn: uid={user},ou=people,`+testenv.LDAPSuffix+`
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
  - name: ops-search
    kind: ldap_group
    ldap:
      group: `+testenv.LDAPGroupDN("ops")+`
      member_search: {base: "ou=people,`+testenv.LDAPSuffix+`", filter: "(mail={user})"}
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
`+extra))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newTarget(t *testing.T, srv *testenv.LDAPServer, password string) *ldapgroup.Target {
	t.Helper()
	tg, err := ldapgroup.New(ldapgroup.Options{URL: srv.URL(), BindDN: testenv.LDAPBindDN, Password: password, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func grant(p *policy.Policy, role, id, requester string) target.Grant {
	r, _ := p.Role(role)
	return target.Grant{Role: r, By: requester, Request: &api.Request{ID: id, Requester: requester, Role: role, State: api.StateApproved}}
}

func TestMembershipLastsFromStartToEndAsLDAPSearchSeesIt(t *testing.T) {
	srv := testenv.LDAP(t, []string{"alice", "bob"}, []string{"ops"})
	ctx := context.Background()
	p := roles(t, "")
	tg := newTarget(t, srv, srv.BindPassword())
	if err := tg.Check(ctx, p.Roles); err != nil {
		t.Fatalf("check: %v", err)
	}
	group, alice, bob := testenv.LDAPGroupDN("ops"), testenv.LDAPPersonDN("alice"), testenv.LDAPPersonDN("bob")
	now := time.Now()
	// alice through the DN template, bob through the search by email.
	issued, err := tg.Start(ctx, grant(p, "ops", "req_a", "alice"), now)
	if err != nil || issued.ID != alice {
		t.Fatalf("start alice: %v %+v", err, issued)
	}
	if _, err := tg.Start(ctx, grant(p, "ops-search", "req_b", "bob@example.com"), now); err != nil {
		t.Fatalf("start bob: %v", err)
	}
	members := srv.Attr(t, group, "member")
	if !slices.Contains(members, alice) || !slices.Contains(members, bob) {
		t.Fatalf("ldapsearch during the grants: members %v, want alice and bob", members)
	}
	ended, err := tg.End(ctx, grant(p, "ops", "req_a", "alice"), true, now)
	if err != nil || !ended.Done || !ended.AccessUntil.Equal(now) {
		t.Fatalf("end alice: %v %+v", err, ended)
	}
	members = srv.Attr(t, group, "member")
	if slices.Contains(members, alice) || !slices.Contains(members, bob) {
		t.Fatalf("ldapsearch after alice's end: members %v, want bob only (and the admin)", members)
	}
	// An end again finds nothing to do.
	if again, err := tg.End(ctx, grant(p, "ops", "req_a", "alice"), false, now); err != nil || again.Done {
		t.Fatalf("second end: %v %+v, want nothing done", err, again)
	}
	created, err := tg.Created(ctx)
	if err != nil || len(created) != 1 || created[0].RequestID != "req_b" || created[0].ID != bob || created[0].At != group {
		t.Fatalf("created: %v %+v, want bob's req_b only", err, created)
	}
	if _, err := tg.Remove(ctx, created[0], now); err != nil {
		t.Fatal(err)
	}
	if members := srv.Attr(t, group, "member"); slices.Contains(members, bob) {
		t.Fatalf("after Remove: members %v still hold bob", members)
	}
	if marks := srv.Attr(t, group, "description"); len(marks) != 0 {
		t.Fatalf("markers left behind: %v", marks)
	}
}

func TestPermanentMemberIsNeverRemovedAndSharedMembershipLastsUntilTheLastGrant(t *testing.T) {
	srv := testenv.LDAP(t, []string{"alice", "bob"}, []string{"ops"})
	ctx := context.Background()
	p := roles(t, "")
	tg := newTarget(t, srv, srv.BindPassword())
	if err := tg.Check(ctx, p.Roles); err != nil {
		t.Fatal(err)
	}
	group, alice, bob := testenv.LDAPGroupDN("ops"), testenv.LDAPPersonDN("alice"), testenv.LDAPPersonDN("bob")
	// bob is a member on his own (not through jit).
	srv.Modify(t, "dn: "+group+"\nchangetype: modify\nadd: member\nmember: "+bob+"\n")
	now := time.Now()
	issued, err := tg.Start(ctx, grant(p, "ops", "req_b", "bob"), now)
	if err != nil || issued.Detail["already_member"] != "true" {
		t.Fatalf("start for a permanent member: %v %+v", err, issued)
	}
	if _, err := tg.End(ctx, grant(p, "ops", "req_b", "bob"), false, now); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(srv.Attr(t, group, "member"), bob) {
		t.Fatal("jit removed a member it had not added")
	}
	// Two grants of alice: her membership lasts until the second ends.
	for _, id := range []string{"req_1", "req_2"} {
		if _, err := tg.Start(ctx, grant(p, "ops", id, "alice"), now); err != nil {
			t.Fatalf("start %s: %v", id, err)
		}
	}
	if _, err := tg.End(ctx, grant(p, "ops", "req_1", "alice"), false, now); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(srv.Attr(t, group, "member"), alice) {
		t.Fatal("the first grant's end removed a membership the second grant still holds")
	}
	if _, err := tg.End(ctx, grant(p, "ops", "req_2", "alice"), false, now); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(srv.Attr(t, group, "member"), alice) {
		t.Fatal("alice is still a member after her last grant ended")
	}
}

func TestCheckRefusesAWrongPasswordAndAMissingGroupWithoutShowingThePassword(t *testing.T) {
	srv := testenv.LDAP(t, []string{"alice"}, []string{"ops"})
	ctx := context.Background()
	p := roles(t, "")
	secret := "not-the-password-" + srv.BindPassword()[:6]
	err := newTarget(t, srv, secret).Check(ctx, p.Roles)
	var lerr *ldapgroup.Error
	if !errors.As(err, &lerr) || !strings.Contains(err.Error(), "bind as "+testenv.LDAPBindDN) || strings.Contains(err.Error(), secret) {
		t.Fatalf("wrong password: %v, want a bind error naming the bind DN and not the password", err)
	}
	missing := roles(t, `  - name: gone
    kind: ldap_group
    ldap: {group: "cn=gone,ou=groups,`+testenv.LDAPSuffix+`", member_dn: "uid={user},ou=people,`+testenv.LDAPSuffix+`"}
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
`)
	err = newTarget(t, srv, srv.BindPassword()).Check(ctx, missing.Roles)
	if err == nil || !strings.Contains(err.Error(), "role gone") || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing group: %v, want a refusal naming the role and the group", err)
	}
}

func TestStartIsRefusedWholeWhenTheBindAccountMayNotWriteTheMarker(t *testing.T) {
	// The harness gives the bind account write on ops' member and
	// description only (the rights docs/security.md asks for).
	srv := testenv.LDAP(t, []string{"alice"}, []string{"ops"})
	srv.Modify(t, "dn: "+testenv.LDAPGroupDN("ops")+"\nchangetype: modify\nreplace: description\ndescription: ops team\n")
	ctx := context.Background()
	p := roles(t, "")
	tg := newTarget(t, srv, srv.BindPassword())
	if err := tg.Check(ctx, p.Roles); err != nil {
		t.Fatal(err)
	}
	// The marker attribute cn is not writable: the modify is refused whole,
	// so no member is added without its marker.
	tgCN, err := ldapgroup.New(ldapgroup.Options{URL: srv.URL(), BindDN: testenv.LDAPBindDN, Password: srv.BindPassword(), Marker: "cn"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tgCN.Start(ctx, grant(p, "ops", "req_x", "alice"), time.Now())
	if err == nil || !strings.Contains(err.Error(), "write") {
		t.Fatalf("start with an unwritable marker: %v, want a refusal that says what rights to grant", err)
	}
	if slices.Contains(srv.Attr(t, testenv.LDAPGroupDN("ops"), "member"), testenv.LDAPPersonDN("alice")) {
		t.Fatal("a member was added without its marker")
	}
	// Other marker values (a human's description) are left alone.
	if _, err := tg.Start(ctx, grant(p, "ops", "req_y", "alice"), time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.End(ctx, grant(p, "ops", "req_y", "alice"), false, time.Now()); err != nil {
		t.Fatal(err)
	}
	if d := srv.Attr(t, testenv.LDAPGroupDN("ops"), "description"); !slices.Equal(d, []string{"ops team"}) {
		t.Fatalf("description after a grant: %v, want the human's value only", d)
	}
}

func TestCraftedRequesterNamesCannotWidenTheMemberLookup(t *testing.T) {
	srv := testenv.LDAP(t, []string{"bob"}, []string{"ops"})
	ctx := context.Background()
	p := roles(t, "")
	tg := newTarget(t, srv, srv.BindPassword())
	if err := tg.Check(ctx, p.Roles); err != nil {
		t.Fatal(err)
	}
	// Unescaped, "(mail=*)" would find bob, the only person: a name of "*"
	// must find nobody. A DN template with a name that is no entry
	// (or smuggles RDNs) adds nothing either.
	for _, tc := range []struct{ role, name string }{
		{"ops-search", "*"}, {"ops-search", "*)(uid=*"}, {"ops", "bob,ou=people"}, {"ops", "nobody"},
	} {
		if _, err := tg.Start(ctx, grant(p, tc.role, "req_x", tc.name), time.Now()); err == nil {
			t.Errorf("%s with requester %q: started, want no entry found", tc.role, tc.name)
		}
	}
	if m := srv.Attr(t, testenv.LDAPGroupDN("ops"), "member"); slices.Contains(m, testenv.LDAPPersonDN("bob")) || len(m) != 1 {
		t.Fatalf("members after crafted names: %v, want the admin only", m)
	}
}
