package policy

import (
	"fmt"
	"strings"

	"github.com/jit-access/jit/pkg/api"
)

// AgentsSpec is a role's agents block: what AI agents acting for a user
// (jit mcp) may do with the role.
type AgentsSpec struct {
	// Allowed lets agents request the role on a user's behalf [true].
	Allowed *bool `yaml:"allowed"`
	// HumanApproval makes an agent's request wait for the role's approvers
	// even where the user would be auto-approved [true].
	HumanApproval *bool `yaml:"human_approval"`
}

// AgentRule is a role's validated agents block.
type AgentRule struct {
	Allowed       bool
	HumanApproval bool
}

func agentRule(s *AgentsSpec) AgentRule {
	r := AgentRule{Allowed: true, HumanApproval: true}
	if s != nil && s.Allowed != nil {
		r.Allowed = *s.Allowed
	}
	if s != nil && s.HumanApproval != nil {
		r.HumanApproval = *s.HumanApproval
	}
	return r
}

// MaxAgentNameLength bounds CreateRequest.Agent.
const MaxAgentNameLength = 100

// checkAgent applies the role's agents rule to a request an agent makes:
// refused where agents may not ask, and never break-glass (an emergency
// self-activation is a person's call).
func (r *Role) checkAgent(in api.CreateRequest) error {
	if in.Agent == "" {
		return nil
	}
	if len(in.Agent) > MaxAgentNameLength || strings.TrimSpace(in.Agent) != in.Agent {
		return &InvalidError{Field: "agent", Reason: fmt.Sprintf("the agent's name is longer than %d characters or has spaces around it", MaxAgentNameLength),
			Hint: "name the agent briefly (claude-code, cursor)", Rule: r.rule("agents")}
	}
	if !r.Agents.Allowed {
		return &DeniedError{Reason: fmt.Sprintf("agents may not request %s (agent %q)", r.Name, in.Agent),
			Hint: fmt.Sprintf("the policy sets roles[%s].agents.allowed: false; the person requests it themselves: jit request %s", r.Name, r.Name), Rule: r.rule("agents")}
	}
	if in.BreakGlass {
		return &DeniedError{Reason: fmt.Sprintf("an agent never breaks glass (agent %q)", in.Agent),
			Hint: fmt.Sprintf("the person breaks glass themselves: jit request %s --break-glass", r.Name), Rule: r.rule("agents")}
	}
	return nil
}

// agentNeedsAPerson reports whether in, made by an agent, must wait for
// approvers even where auto-approve would grant it.
func (r *Role) agentNeedsAPerson(in api.CreateRequest) bool {
	return in.Agent != "" && r.Agents.HumanApproval
}
