package testenv

import (
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/policy"
)

func TestPolicyFixtureParsesWithTheSharedDefaults(t *testing.T) {
	extra := NewRole("longjob", "max_duration", "1h", "max_extensions", "3", "max_total_duration", "2h")
	p, err := policy.Parse("fixture.yaml", []byte(Policy(append(BaseRoles(), extra)...)))
	if err != nil {
		t.Fatalf("the fixture does not parse: %v", err)
	}
	if len(p.Roles) != 6 {
		t.Fatalf("%d roles, want the 5 base roles and the one added", len(p.Roles))
	}
	adjusted, err := policy.Parse("adjusted.yaml", []byte(Policy(S3ReadOnly.With("default_duration", "5m").Without("auto_approve"))))
	if err != nil {
		t.Fatalf("the adjusted role does not parse: %v", err)
	}
	ro := adjusted.Roles[0]
	if ro.ARN != "arn:aws:iam::123456789012:role/jit-readonly" || ro.DefaultDuration != 5*time.Minute ||
		ro.AutoApprove != nil || ro.SessionPolicy == "" {
		t.Errorf("adjusted readonly = %+v: want the default ARN, default_duration 5m, no auto-approve, a session policy", ro)
	}
	if base := p.Roles[0]; base.DefaultDuration != 15*time.Minute || base.AutoApprove == nil {
		t.Errorf("With/Without changed the shared ReadOnly: %+v", base)
	}
	if two, _ := p.Role("two-man"); two.ApprovalsRequired != 2 {
		t.Errorf("two-man needs %d approvals, want 2", two.ApprovalsRequired)
	}
	if oc, _ := p.Role("oncall"); oc.BreakGlass == nil {
		t.Error("oncall has no break-glass")
	}
	if lj, _ := p.Role("longjob"); lj.MaxExtensions != 3 {
		t.Errorf("an added role lost its fields: %+v", lj)
	}
}
