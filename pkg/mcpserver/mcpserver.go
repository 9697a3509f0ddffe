// Package mcpserver is `jit mcp`: a Model Context Protocol server (the
// official Go SDK, over stdio) through which an AI agent asks jit for
// access on behalf of the person whose jit login it runs with. Its tools
// list the roles, request one (with a reason; the request is marked as made
// by the agent, which the server records, shows to approvers and audits),
// wait for the decision and end a grant. It never returns credentials: the
// agent uses the AWS profile (credential_process) or jit exec, as a person
// would.
package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/jit-access/jit/pkg/api"
)

// API is what the server needs of the jit API (pkg/apiclient.Client).
type API interface {
	Roles(ctx context.Context) ([]api.Role, error)
	Create(ctx context.Context, in api.CreateRequest) (*api.Request, error)
	Get(ctx context.Context, id string) (*api.Request, error)
	WaitChange(ctx context.Context, id string, seen int64, wait time.Duration) (*api.Request, error)
	Cancel(ctx context.Context, id, reason string) (*api.Request, error)
	Revoke(ctx context.Context, id, reason string) (*api.Request, error)
}

// MaxWait bounds one request_status wait.
const MaxWait = 5 * time.Minute

// New returns the MCP server over a; version is jit's.
func New(a API, version string) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "jit", Version: version}, &mcp.ServerOptions{
		Instructions: "jit grants short, approved AWS access. List roles, request one with a reason, " +
			"wait for a person to approve, then use the AWS profile of the role or `jit exec ROLE -- CMD`; " +
			"credentials are never returned here. End the grant when done.",
	})
	t := &tools{api: a}
	mcp.AddTool(s, &mcp.Tool{Name: "list_roles", Description: "List the AWS roles the user may request, with their limits " +
		"(default and max duration, reason required, approvals) and whether an agent may ask for them."}, t.listRoles)
	mcp.AddTool(s, &mcp.Tool{Name: "request_role", Description: "Ask for a role on the user's behalf. A reason is required; " +
		"the request is marked as made by this agent and, unless the policy says otherwise, waits for a person to approve it."}, t.requestRole)
	mcp.AddTool(s, &mcp.Tool{Name: "request_status", Description: "Show a request's state; with wait_seconds (up to 300), " +
		"wait until it changes (approved, denied, timed out, ended)."}, t.status)
	mcp.AddTool(s, &mcp.Tool{Name: "end_grant", Description: "End a grant early (revoke) or withdraw a pending request (cancel)."}, t.end)
	return s
}

type tools struct{ api API }

// RoleView is one requestable role as the agent sees it.
type RoleView struct {
	Name               string `json:"name"`
	Description        string `json:"description,omitempty"`
	DefaultDuration    string `json:"default_duration"`
	MaxDuration        string `json:"max_duration"`
	ReasonRequired     bool   `json:"reason_required"`
	TicketPattern      string `json:"ticket_pattern,omitempty"`
	ApprovalsRequired  int    `json:"approvals_required"`
	AgentsMayRequest   bool   `json:"agents_may_request"`
	AgentNeedsApproval bool   `json:"agent_request_needs_a_person"`
}

// RolesOut is list_roles' result.
type RolesOut struct {
	Roles []RoleView `json:"roles"`
}

func (t *tools) listRoles(ctx context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, RolesOut, error) {
	roles, err := t.api.Roles(ctx)
	if err != nil {
		return nil, RolesOut{}, err
	}
	out := RolesOut{Roles: []RoleView{}}
	for _, r := range roles {
		out.Roles = append(out.Roles, RoleView{Name: r.Name, Description: r.Description,
			DefaultDuration: api.FormatDuration(time.Duration(r.DefaultDuration) * time.Second),
			MaxDuration:     api.FormatDuration(time.Duration(r.MaxDuration) * time.Second),
			ReasonRequired:  r.ReasonRequired, TicketPattern: r.TicketPattern, ApprovalsRequired: r.ApprovalsRequired,
			AgentsMayRequest: !r.AgentsForbidden, AgentNeedsApproval: r.AgentNeedsApproval})
	}
	return nil, out, nil
}

// RequestIn is request_role's input.
type RequestIn struct {
	Role     string `json:"role" jsonschema:"the role's name, from list_roles"`
	Reason   string `json:"reason" jsonschema:"why the user needs it now (shown to approvers, kept in the audit log)"`
	Duration string `json:"duration,omitempty" jsonschema:"how long, such as 30m or 1h (default: the role's default)"`
	Ticket   string `json:"ticket,omitempty" jsonschema:"a ticket id, when the role asks for one"`
}

// RequestView is a request as the agent sees it: never credentials.
type RequestView struct {
	ID              string `json:"id"`
	Role            string `json:"role"`
	State           string `json:"state"`
	Requester       string `json:"requester"`
	Agent           string `json:"agent,omitempty"`
	ApprovalsNeeded int    `json:"approvals_needed"`
	Approvals       int    `json:"approvals"`
	EndsAt          string `json:"ends_at,omitempty"`
	Version         int64  `json:"version"`
	// Use says how to use a live grant without handing keys to the agent.
	Use string `json:"use,omitempty"`
}

func view(r *api.Request) RequestView {
	v := RequestView{ID: r.ID, Role: r.Role, State: string(r.State), Requester: r.Requester, Agent: r.Agent,
		ApprovalsNeeded: r.ApprovalsNeeded, Approvals: len(r.Approvals), Version: r.Version}
	if r.State.Granted() {
		v.EndsAt = r.EndsAt.UTC().Format(time.RFC3339)
		v.Use = fmt.Sprintf("run commands with `jit exec %s -- CMD` or the AWS profile %s (jit configure aws); the credentials stop at %s", r.Role, r.Role, v.EndsAt)
	}
	return v
}

func (t *tools) requestRole(ctx context.Context, req *mcp.CallToolRequest, in RequestIn) (*mcp.CallToolResult, RequestView, error) {
	if strings.TrimSpace(in.Reason) == "" {
		return nil, RequestView{}, errors.New("a reason is required: say why the user needs the role now")
	}
	var d time.Duration
	if in.Duration != "" {
		var err error
		if d, err = time.ParseDuration(in.Duration); err != nil || d <= 0 {
			return nil, RequestView{}, fmt.Errorf("duration %q is not a positive duration such as 30m or 1h", in.Duration)
		}
	}
	r, err := t.api.Create(ctx, api.CreateRequest{Role: in.Role, Reason: in.Reason, Ticket: in.Ticket,
		DurationSeconds: int64(d / time.Second), Agent: agentName(req)})
	if err != nil {
		return nil, RequestView{}, err
	}
	return nil, view(r), nil
}

// agentName is the MCP client's name from its initialize request.
func agentName(req *mcp.CallToolRequest) string {
	name := "mcp-client"
	if req != nil && req.Session != nil {
		if p := req.Session.InitializeParams(); p != nil && p.ClientInfo != nil && strings.TrimSpace(p.ClientInfo.Name) != "" {
			name = strings.TrimSpace(p.ClientInfo.Name)
		}
	}
	return cutName(name, maxAgentName)
}

// maxAgentName is how many bytes of the client's name a request carries.
const maxAgentName = 80

// cutName keeps at most max bytes of name, cut between runes (never in the
// middle of a UTF-8 sequence: the server would store U+FFFD), with invalid
// bytes replaced and no space left at either end (the server refuses one).
func cutName(name string, max int) string {
	name = strings.ToValidUTF8(name, "\uFFFD")
	if len(name) > max {
		cut := 0
		for i, r := range name {
			if i+utf8.RuneLen(r) > max {
				break
			}
			cut = i + utf8.RuneLen(r)
		}
		name = name[:cut]
	}
	return strings.TrimSpace(name)
}

// StatusIn is request_status' input.
type StatusIn struct {
	ID          string `json:"id"`
	WaitSeconds int    `json:"wait_seconds,omitempty" jsonschema:"wait up to this long for a change (0: answer now; at most 300)"`
}

func (t *tools) status(ctx context.Context, _ *mcp.CallToolRequest, in StatusIn) (*mcp.CallToolResult, RequestView, error) {
	r, err := t.api.Get(ctx, in.ID)
	if err != nil {
		return nil, RequestView{}, err
	}
	if wait := min(time.Duration(in.WaitSeconds)*time.Second, MaxWait); wait > 0 && !r.State.Final() {
		if r, err = t.api.WaitChange(ctx, in.ID, r.Version, wait); err != nil {
			return nil, RequestView{}, err
		}
	}
	return nil, view(r), nil
}

// EndIn is end_grant's input.
type EndIn struct {
	ID     string `json:"id"`
	Reason string `json:"reason,omitempty"`
}

func (t *tools) end(ctx context.Context, _ *mcp.CallToolRequest, in EndIn) (*mcp.CallToolResult, RequestView, error) {
	r, err := t.api.Get(ctx, in.ID)
	if err != nil {
		return nil, RequestView{}, err
	}
	reason := strings.TrimSpace(in.Reason)
	if reason == "" {
		reason = "ended by the agent"
	}
	switch {
	case r.State == api.StatePending:
		r, err = t.api.Cancel(ctx, in.ID, reason)
	case r.State.Granted():
		r, err = t.api.Revoke(ctx, in.ID, reason)
	default:
		return nil, view(r), nil
	}
	if err != nil {
		return nil, RequestView{}, err
	}
	return nil, view(r), nil
}
