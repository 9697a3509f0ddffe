package policy

import (
	"errors"
	"strings"
	"testing"

	"github.com/jit-access/jit/pkg/api"
)

func TestManagerOfRequesterBelongsUnderApproversOnly(t *testing.T) {
	_, err := Parse("p.yaml", []byte(`admins: {manager_of_requester: true}
roles:
  - name: r
    arn: arn:aws:iam::123456789012:role/r
    eligible: {groups: [dev], manager_of_requester: true}
    approvers: {manager_of_requester: true}
    approvals_required: 2
`))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"p.yaml:1:32: admins.manager_of_requester: manager_of_requester names who may approve a request; it belongs under approvers: only",
		"roles[0].eligible.manager_of_requester: manager_of_requester names who may approve",
		"roles[0].approvers: 1 approver(s) listed but approvals_required is 2",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
}

func TestOnlyTheRecordedManagerApprovesNeverTheRequesterOrAWorkload(t *testing.T) {
	p, err := Parse("p.yaml", []byte(`roles:
  - name: r
    arn: arn:aws:iam::123456789012:role/r
    eligible: {groups: [dev]}
    approvers: {manager_of_requester: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	dana := api.User{Issuer: "i", Subject: "dana", Username: "dana@example.com", Email: "dana@example.com", Groups: []string{"dev"}}
	max := api.User{Issuer: "i", Subject: "max", Username: "max@example.com", Email: "max@example.com"}
	req := &api.Request{ID: "req_1", Role: "r", State: api.StatePending, ApprovalsNeeded: 1,
		RequesterIssuer: "i", RequesterSubject: "dana", RequesterEmail: "dana@example.com", Manager: "MAX@example.com"}
	if err := p.CanApprove(max, req); err != nil {
		t.Fatalf("the manager may not approve: %v", err)
	}
	if !p.CanView(max, req) || !p.Approves(max, req) {
		t.Fatal("the manager may not see the request")
	}
	// A workload whose claims look like the manager's names never decides.
	wl := api.User{Issuer: "ci", Subject: "max", Username: "max@example.com", Email: "max@example.com", Kind: api.KindWorkload}
	if err := p.CanApprove(wl, req); err == nil {
		t.Fatal("a workload approved as the manager")
	}
	// The requester recorded as their own manager (a store edited by
	// hand, an old record) is still refused: self-approval is checked first.
	self := *req
	self.Manager = "dana@example.com"
	var denied *DeniedError
	if err := p.CanApprove(dana, &self); !errors.As(err, &denied) || denied.Rule != "self-approval" {
		t.Fatalf("the requester approved as their own manager: %v", err)
	}
	// Without a recorded manager nobody approves, and the hint says why.
	none := *req
	none.Manager = ""
	if err := p.CanApprove(max, &none); err == nil || !strings.Contains(err.Error(), "no manager on record") {
		t.Fatalf("approval without a recorded manager: %v", err)
	}
	if got := ManagerAnswer(dana, "static", " Dana@Example.com ", nil); got.Manager != "" || !strings.Contains(got.Problem, "own manager") {
		t.Fatalf("ManagerAnswer for the requester themselves: %+v", got)
	}
}

func TestExplainNamesTheManagerRule(t *testing.T) {
	p, err := Parse("p.yaml", []byte(`roles:
  - name: r
    arn: arn:aws:iam::123456789012:role/r
    eligible: {groups: [dev]}
    approvers: {users: [lee@example.com], manager_of_requester: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	s := p.Explain(api.User{Subject: "max", Username: "max@example.com"}, "r").String()
	for _, want := range []string{"approvers: 1 of users lee@example.com; the requester's manager",
		"manager:   the requester's manager approves too", "roles[r].approvers.manager_of_requester",
		"approves:  no, except the requests of people whose manager they are"} {
		if !strings.Contains(s, want) {
			t.Errorf("explain lacks %q:\n%s", want, s)
		}
	}
}
