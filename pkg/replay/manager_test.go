package replay

import (
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/policy"
)

// A proposed manager rule replays on records that say who the manager was,
// and is not_replayable on records that do not.
func TestManagerRuleReplaysOnlyWhereTheRecordNamesTheManager(t *testing.T) {
	p, err := policy.Parse("proposed.yaml", []byte(`roles:
  - name: billing
    arn: arn:aws:iam::123456789012:role/billing
    eligible: {groups: [dev]}
    approvers: {manager_of_requester: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	dana := api.User{Issuer: "i", Subject: "dana", Username: "dana@example.com", Groups: []string{"dev"}}
	lee := api.User{Issuer: "i", Subject: "lee", Username: "lee@example.com", Groups: []string{"leads"}}
	max := api.User{Issuer: "i", Subject: "max", Username: "max@example.com"}
	base := Record{At: at, Requester: dana, GroupsKnown: true, Role: "billing", Duration: time.Hour, Was: WasApproved,
		ApprovalsNeeded: 1, Granted: time.Hour, ApproversKnown: true}
	noManager := base
	noManager.ID, noManager.Approvers = "req_old", []api.User{lee}
	byManager := base
	byManager.ID, byManager.Approvers, byManager.Manager, byManager.ManagerKnown = "req_mgr", []api.User{max}, "max@example.com", true
	byLead := base
	byLead.ID, byLead.Approvers, byLead.Manager, byLead.ManagerKnown = "req_lead", []api.User{lee}, "max@example.com", true
	res := Run(p, []Record{noManager, byManager, byLead}, at.Add(-time.Hour), at.Add(time.Hour))
	got := map[string]Row{}
	for _, r := range res.Rows {
		got[r.ID] = r
	}
	if r := got["req_old"]; len(r.Changes) != 1 || r.Changes[0] != ChangeNotReplayable || !strings.Contains(r.Why, "does not say who the manager was") {
		t.Errorf("a record without the manager: %+v", r)
	}
	if r := got["req_mgr"]; len(r.Changes) != 0 {
		t.Errorf("approved by the recorded manager, yet changed: %+v", r)
	}
	if r := got["req_lead"]; len(r.Changes) != 1 || r.Changes[0] != ChangeOtherApprovers || !strings.Contains(r.Why, "lee@example.com would no longer be an approver") {
		t.Errorf("approved by someone who is not the manager: %+v", r)
	}
}
