package mcpserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/apiclient"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/mcpserver"
	"github.com/jit-access/jit/pkg/store"
)

var agentPolicy = testenv.Policy(
	testenv.ReadOnly,
	testenv.NewRole("no-agents", "agents", "{allowed: false}"),
	testenv.NewRole("agent-auto", "auto_approve", "{groups: [developers]}", "agents", "{human_approval: false}"))

// connect runs jit's MCP server for alice (her real token) and connects the
// go-sdk's client to it over an in-memory transport, as an agent named
// "test-agent"; bob is an approver's API client.
func connect(t *testing.T) (cs *mcp.ClientSession, bob *apiclient.Client, js *testenv.JitServer) {
	t.Helper()
	return connectAs(t, "test-agent")
}

// connectAs is connect with the agent (MCP client) named agent.
func connectAs(t *testing.T, agent string) (cs *mcp.ClientSession, bob *apiclient.Client, js *testenv.JitServer) {
	t.Helper()
	idp := testenv.OIDC(t)
	js = testenv.StartJitServer(t, testenv.JitServerOptions{Issuer: idp.Issuer(), ClientID: idp.ClientID(), Policy: agentPolicy})
	tokens := testenv.IDTokens(t, idp, "alice", "bob")
	client := func(name string) *apiclient.Client {
		c, err := apiclient.New(js.URL, http.DefaultClient, func(context.Context) (string, error) { return tokens[name], nil })
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	st, ct := mcp.NewInMemoryTransports()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if _, err := mcpserver.New(client("alice"), "test").Connect(ctx, st, nil); err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: agent, Version: "1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs, client("bob"), js
}

// call calls a tool and decodes its structured result into out; it
// returns the result's text when the tool reported an error.
func call(t *testing.T, cs *mcp.ClientSession, tool string, args map[string]any, out any) (errText string, raw string) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	var text []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text = append(text, tc.Text)
		}
	}
	b, _ := json.Marshal(res)
	if res.IsError {
		return strings.Join(text, "\n"), string(b)
	}
	if out != nil {
		sc, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(sc, out); err != nil {
			t.Fatalf("%s: decode %s: %v", tool, sc, err)
		}
	}
	return "", string(b)
}

func TestAgentRequestWaitsForAPersonAndNeverSeesKeys(t *testing.T) {
	cs, bob, js := connect(t)
	tools, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range tools.Tools {
		names = append(names, tl.Name)
	}
	slices.Sort(names)
	if strings.Join(names, ",") != "end_grant,list_roles,request_role,request_status" {
		t.Fatalf("tools: %v", names)
	}
	var roles mcpserver.RolesOut
	call(t, cs, "list_roles", nil, &roles)
	if len(roles.Roles) != 3 || roles.Roles[0].Name != "readonly" || roles.Roles[0].MaxDuration != "1h" || !roles.Roles[0].AgentNeedsApproval || roles.Roles[1].AgentsMayRequest {
		t.Fatalf("roles: %+v", roles.Roles)
	}
	// The reason is required by the tool's schema, and a blank one by the tool.
	if msg, _ := call(t, cs, "request_role", map[string]any{"role": "readonly"}, nil); !strings.Contains(msg, `"reason"`) {
		t.Fatalf("a request without a reason: %q", msg)
	}
	if msg, _ := call(t, cs, "request_role", map[string]any{"role": "readonly", "reason": "  "}, nil); !strings.Contains(msg, "reason is required") {
		t.Fatalf("a request with a blank reason: %q", msg)
	}
	// alice herself would be auto-approved for readonly; her agent is not.
	var req mcpserver.RequestView
	call(t, cs, "request_role", map[string]any{"role": "readonly", "reason": "read the logs for INC-1", "duration": "15m"}, &req)
	if req.State != "pending" || req.Agent != "test-agent" || req.Requester != "alice@example.com" {
		t.Fatalf("the agent's request: %+v", req)
	}
	stored, _ := js.Store.Get(context.Background(), req.ID)
	if stored.Agent != "test-agent" {
		t.Fatalf("the server did not record the agent: %+v", stored)
	}
	if _, err := bob.Approve(context.Background(), req.ID, req.Version, "ok"); err != nil {
		t.Fatal(err)
	}
	var after mcpserver.RequestView
	_, raw := call(t, cs, "request_status", map[string]any{"id": req.ID, "wait_seconds": 5}, &after)
	if after.State != "approved" || after.EndsAt == "" || !strings.Contains(after.Use, "jit exec readonly") {
		t.Fatalf("status after bob's approval: %+v", after)
	}
	for _, secret := range []string{"AccessKeyId", "SecretAccessKey", "SessionToken", "access_key", "secret"} {
		if strings.Contains(strings.ToLower(raw), strings.ToLower(secret)) {
			t.Fatalf("the status shows %q: %s", secret, raw)
		}
	}
	var ended mcpserver.RequestView
	call(t, cs, "end_grant", map[string]any{"id": req.ID, "reason": "done"}, &ended)
	if ended.State != "revoked" {
		t.Fatalf("end_grant: %+v", ended)
	}
	// The audit log says an agent made it.
	events, _ := js.Store.Audit(context.Background(), storeFilter(req.ID))
	if len(events) == 0 || events[0].Detail["agent"] != "test-agent" {
		t.Fatalf("request.created detail: %+v", events)
	}
}

func TestAgentRefusedWherePolicyForbidsAgentsAndAutoApprovedOnlyWhereItAllows(t *testing.T) {
	cs, _, _ := connect(t)
	if msg, _ := call(t, cs, "request_role", map[string]any{"role": "no-agents", "reason": "x"}, nil); !strings.Contains(msg, "agents may not request no-agents") {
		t.Fatalf("no-agents: %q", msg)
	}
	var req mcpserver.RequestView
	call(t, cs, "request_role", map[string]any{"role": "agent-auto", "reason": "x"}, &req)
	if req.State != string(api.StateApproved) {
		t.Fatalf("agent-auto (human_approval: false): %+v", req)
	}
}

func storeFilter(id string) store.AuditFilter {
	return store.AuditFilter{RequestID: id, Type: audit.TypeRequestCreated}
}

// TestLongAgentNameIsCutBetweenRunesAndStillAccepted: a client name longer
// than 80 bytes is cut, never inside a UTF-8 sequence (an "é" across the
// cut) and never leaving a space at the end (which the server refuses),
// through a real MCP session and the real server.
func TestLongAgentNameIsCutBetweenRunesAndStillAccepted(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{strings.Repeat("a", 79) + "é-agent", strings.Repeat("a", 79)},
		{strings.Repeat("b", 79) + " tail", strings.Repeat("b", 79)},
		{strings.Repeat("ü", 45), strings.Repeat("ü", 40)},
	} {
		cs, _, _ := connectAs(t, tc.name)
		var req mcpserver.RequestView
		if msg, _ := call(t, cs, "request_role", map[string]any{"role": "readonly", "reason": "read the logs", "duration": "15m"}, &req); msg != "" {
			t.Fatalf("agent %q: refused: %s", tc.name, msg)
		}
		if req.Agent != tc.want || !utf8.ValidString(req.Agent) {
			t.Errorf("agent %q stored as %q, want %q", tc.name, req.Agent, tc.want)
		}
	}
}
