package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/jit-access/jit/internal/mcpclient"
	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
)

// agentPolicy: readonly would auto-approve alice but waits for a person
// when her agent asks (the default); agents may not ask for no-agents.
var agentPolicy = testenv.Policy(testenv.S3ReadOnly,
	testenv.NewRole("no-agents", "agents", "{allowed: false}"))

// mcpAgent is an MCP client connected to `jit mcp` run as a process:
// the go-sdk's command transport, or npm's SDK (internal/mcpclient).
type mcpAgent interface {
	tools(t *testing.T) []string
	// call decodes the tool's structured result into out or, when the tool
	// reported an error, returns its text; raw is the whole result. err is
	// a protocol or transport failure. It may run on another goroutine.
	call(tool string, args map[string]any, out any) (errText, raw string, err error)
}

// mustCall is call that fails the test on a protocol failure.
func mustCall(t *testing.T, a mcpAgent, tool string, args map[string]any, out any) (errText, raw string) {
	t.Helper()
	errText, raw, err := a.call(tool, args, out)
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	return errText, raw
}

type goSDKAgent struct {
	ctx context.Context
	cs  *mcp.ClientSession
}

func (a goSDKAgent) tools(t *testing.T) []string {
	t.Helper()
	res, err := a.cs.ListTools(a.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
	}
	return names
}

func (a goSDKAgent) call(tool string, args map[string]any, out any) (string, string, error) {
	res, err := a.cs.CallTool(a.ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		return "", "", err
	}
	raw, _ := json.Marshal(res)
	if res.IsError {
		var text []string
		for _, c := range res.Content {
			if tc, ok := c.(*mcp.TextContent); ok {
				text = append(text, tc.Text)
			}
		}
		return strings.Join(text, "\n"), string(raw), nil
	}
	sc, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(sc, out); err != nil {
		return "", string(raw), fmt.Errorf("decode %s: %w", sc, err)
	}
	return "", string(raw), nil
}

type nodeAgent struct{ c *mcpclient.Client }

func (a nodeAgent) tools(t *testing.T) []string {
	t.Helper()
	names, err := a.c.ListTools()
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func (a nodeAgent) call(tool string, args map[string]any, out any) (string, string, error) {
	res, err := a.c.Call(tool, args)
	if err != nil {
		return "", "", fmt.Errorf("npm client: %w", err)
	}
	raw, _ := json.Marshal(res)
	if res.IsError {
		return res.Text(), string(raw), nil
	}
	if err := json.Unmarshal(res.StructuredContent, out); err != nil {
		return "", string(raw), fmt.Errorf("decode %s: %w", res.StructuredContent, err)
	}
	return "", string(raw), nil
}

// mcpWorld is a world on agentPolicy where alice and bob are logged in
// with the jit binary.
func mcpWorld(t *testing.T) (w *world, alice, bob *user) {
	t.Helper()
	w = newWorldWith(t, worldOptions{policy: agentPolicy})
	alice, bob = w.user("alice"), w.user("bob")
	alice.login()
	bob.login()
	return w, alice, bob
}

// TestAgentThroughTheJitBinaryWaitsForAPersonApprovingInTheCLI: the go-sdk
// client starts `jit mcp` as a process with alice's login (its command
// transport: the agent's stdio); bob approves with `jit approve`.
func TestAgentThroughTheJitBinaryWaitsForAPersonApprovingInTheCLI(t *testing.T) {
	needAWSCLI(t)
	w, alice, bob := mcpWorld(t)
	cmd := exec.Command(testenv.JitBinary(t), "mcp")
	cmd.Env = alice.Env
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "go-agent", Version: "1"}, nil).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect to jit mcp: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	if init := cs.InitializeResult(); init == nil || init.ServerInfo.Name != "jit" {
		t.Fatalf("initialize: %+v", init)
	}
	agentScenario(t, w, alice, bob, goSDKAgent{ctx, cs}, "go-agent")
}

// TestNpmMCPClientDrivesTheJitBinaryLikeTheGoClient: npm's
// @modelcontextprotocol/sdk, which shares no code with the Go SDK, runs the
// same scenario against `jit mcp`; it also checks each structured result
// against the tool's declared output schema.
func TestNpmMCPClientDrivesTheJitBinaryLikeTheGoClient(t *testing.T) {
	needAWSCLI(t)
	w, alice, bob := mcpWorld(t)
	c := mcpclient.Start(t, "node-agent", alice.Env, testenv.JitBinary(t), "mcp")
	if c.Server.Name != "jit" {
		t.Fatalf("server info: %+v", c.Server)
	}
	agentScenario(t, w, alice, bob, nodeAgent{c}, "node-agent")
}

// agentScenario is what an agent does with jit mcp: list the tools and
// roles, be refused where the policy forbids agents and without a reason,
// request readonly (which waits for a person although alice herself would
// be auto-approved), wait while bob approves in the CLI, see the grant
// without any key, use it as alice would (jit exec with the AWS CLI), and
// end it.
func agentScenario(t *testing.T, w *world, alice, bob *user, agent mcpAgent, name string) {
	t.Helper()
	names := agent.tools(t)
	slices.Sort(names)
	if strings.Join(names, ",") != "end_grant,list_roles,request_role,request_status" {
		t.Fatalf("tools: %v", names)
	}
	var roles struct {
		Roles []struct {
			Name                     string
			MaxDuration              string `json:"max_duration"`
			AgentsMayRequest         bool   `json:"agents_may_request"`
			AgentRequestNeedsAPerson bool   `json:"agent_request_needs_a_person"`
		}
	}
	mustCall(t, agent, "list_roles", nil, &roles)
	if len(roles.Roles) != 2 || roles.Roles[0].Name != "readonly" || roles.Roles[0].MaxDuration != "1h" ||
		!roles.Roles[0].AgentsMayRequest || !roles.Roles[0].AgentRequestNeedsAPerson || roles.Roles[1].AgentsMayRequest {
		t.Fatalf("roles: %+v", roles.Roles)
	}
	if msg, _ := mustCall(t, agent, "request_role", map[string]any{"role": "no-agents", "reason": "x"}, nil); !strings.Contains(msg, "agents may not request no-agents") {
		t.Fatalf("no-agents: %q", msg)
	}
	if msg, _ := mustCall(t, agent, "request_role", map[string]any{"role": "readonly", "reason": " "}, nil); !strings.Contains(msg, "reason is required") {
		t.Fatalf("a blank reason: %q", msg)
	}
	type view struct {
		ID, Role, State, Requester, Agent string
		EndsAt                            string `json:"ends_at"`
		Use                               string
	}
	var req view
	if msg, raw := mustCall(t, agent, "request_role", map[string]any{"role": "readonly", "reason": "read the logs for INC-7", "duration": "15m"}, &req); msg != "" {
		t.Fatalf("request_role: %s %s", msg, raw)
	}
	if req.State != "pending" || req.Agent != name || req.Requester != "alice@example.com" {
		t.Fatalf("the agent's request: %+v", req)
	}
	// bob sees who asked, and approves in the CLI, as another person.
	var shown api.Request
	if err := json.Unmarshal([]byte(bob.must("show", req.ID, "-o", "json")), &shown); err != nil || shown.Agent != name {
		t.Fatalf("bob's jit show: agent %q, err %v", shown.Agent, err)
	}
	// alice cannot approve her own agent's request.
	if _, errOut, code := alice.run("approve", req.ID); code == 0 {
		t.Fatalf("alice approved her agent's request: %s", errOut)
	}
	type answer struct {
		v        view
		msg, raw string
		err      error
	}
	waited := make(chan answer, 1)
	go func() {
		var a answer
		a.msg, a.raw, a.err = agent.call("request_status", map[string]any{"id": req.ID, "wait_seconds": 60}, &a.v)
		waited <- a
	}()
	bob.must("approve", req.ID, "--comment", "ok for INC-7")
	var after answer
	select {
	case after = <-waited:
	case <-time.After(90 * time.Second):
		t.Fatal("request_status did not return after bob's approval")
	}
	if after.err != nil || after.msg != "" || after.v.State != "approved" || after.v.EndsAt == "" || !strings.Contains(after.v.Use, "jit exec readonly") {
		t.Fatalf("status after bob's approval: %+v %s %v", after.v, after.msg, after.err)
	}
	for _, secret := range []string{"AccessKeyId", "SecretAccessKey", "SessionToken", "access_key", "secret"} {
		if strings.Contains(strings.ToLower(after.raw), strings.ToLower(secret)) {
			t.Fatalf("the agent's status shows %q: %s", secret, after.raw)
		}
	}
	// The agent uses the grant the way the tool says: jit exec, here with
	// the AWS CLI against MinIO.
	if out, errOut, code := alice.run("exec", "readonly", "--", awsCLI, "--endpoint-url", w.minio.Endpoint(), "--region", w.minio.Region(), "s3", "ls", "s3://"+w.bucket); code != 0 {
		t.Fatalf("jit exec readonly -- aws s3 ls: exit %d\n%s\n%s", code, out, errOut)
	}
	var ended view
	mustCall(t, agent, "end_grant", map[string]any{"id": req.ID, "reason": "done"}, &ended)
	if ended.State != "revoked" {
		t.Fatalf("end_grant: %+v", ended)
	}
	if err := json.Unmarshal([]byte(bob.must("show", req.ID, "-o", "json")), &shown); err != nil || shown.State != api.StateRevoked {
		t.Fatalf("bob's jit show after end_grant: %+v %v", shown.State, err)
	}
}
