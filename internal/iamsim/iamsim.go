// Package iamsim is an independent IAM policy evaluator for jit's tests: it
// runs npm's @cloud-copilot/iam-simulate (pinned by node/package-lock.json,
// installed by scripts/deps.sh) as a separate Node.js program and asks it,
// one JSON line per request, whether AWS would allow a request under the
// identity, session and resource (trust) policies jit writes or documents.
//
// The simulator is AGPL-3.0: like MinIO it is a test peer run as its own
// process, never imported into or bundled with jit. A missing node or npm
// package is a missing peer (testenv.MissingPeer: fails under CI=true).
package iamsim

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
)

// The evaluator's decisions (iam-simulate's overallResult).
const (
	Allowed          = "Allowed"
	ExplicitlyDenied = "ExplicitlyDenied"
	ImplicitlyDenied = "ImplicitlyDenied"
)

// Version is the iam-simulate version node/package.json pins; Start checks
// that this is the one installed.
const Version = "0.1.173"

// Request is one API call: who makes it, the action, the resource (with the
// account that owns it) and the request context. Context values are strings
// or []string, as AWS's context keys are (dates in RFC 3339).
type Request struct {
	Principal       string
	Action          string
	Resource        string
	ResourceAccount string
	Context         map[string]any
}

// Policy is one named identity policy (a policy document as JSON).
type Policy struct {
	Name     string
	Document string
}

// Simulation is a request and the policies AWS would evaluate for it.
// Documents are JSON text exactly as jit writes them; "" means none.
type Simulation struct {
	Request          Request
	IdentityPolicies []Policy
	SessionPolicy    string
	ResourcePolicy   string
	// MayIgnore lists context keys the test knows do not apply to the
	// action; any other key the evaluator drops fails the test, so a test
	// cannot pass because its context was silently ignored.
	MayIgnore []string
}

// Simulator is one running iam-simulate process.
type Simulator struct {
	mu     sync.Mutex // one request at a time
	in     io.WriteCloser
	out    *bufio.Scanner
	errMu  sync.Mutex // guards stderr, written by the process's copier
	stderr *strings.Builder
}

// Dir is where simulate.js and its package-lock.json live.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "node")
}

const install = "run scripts/deps.sh, or: cd internal/iamsim/node && npm ci"

// find returns node's path, or an error naming the install command when
// node or the npm package in dir is missing.
func find(lookPath func(string) (string, error), dir string) (string, error) {
	node, err := lookPath("node")
	if err != nil {
		return "", fmt.Errorf("node not found on PATH: install Node.js 20+ (apt-get install nodejs npm), then %s", install)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@cloud-copilot", "iam-simulate", "package.json")); err != nil {
		return "", fmt.Errorf("npm package @cloud-copilot/iam-simulate missing in %s: %s", dir, install)
	}
	return node, nil
}

// Start runs node/simulate.js and stops it when the test ends.
func Start(t testing.TB) *Simulator {
	t.Helper()
	testenv.SkipPeerInShortMode(t, "node's IAM simulator")
	dir := Dir()
	node, err := find(exec.LookPath, dir)
	if err != nil {
		testenv.MissingPeer(t, "iamsim: "+err.Error())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "simulate.js"))
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &Simulator{in: stdin, stderr: &strings.Builder{}}
	cmd.Stderr = &lockedWriter{w: s.stderr, mu: &s.errMu}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("iamsim: start node simulate.js: %v", err)
	}
	t.Cleanup(func() {
		stdin.Close() // simulate.js exits when stdin closes
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cancel()
			<-done
		}
		cancel()
	})
	s.out = bufio.NewScanner(stdout)
	s.out.Buffer(make([]byte, 0, 64<<10), 16<<20)
	var ready struct {
		Ready   bool   `json:"ready"`
		Version string `json:"version"`
	}
	if !s.out.Scan() || json.Unmarshal(s.out.Bytes(), &ready) != nil || !ready.Ready {
		t.Fatalf("iamsim: simulate.js did not start (%s); stderr:\n%s", install, s.stderrText())
	}
	if ready.Version != Version {
		t.Fatalf("iamsim: iam-simulate %s installed, want %s: %s", ready.Version, Version, install)
	}
	return s
}

// Result is the evaluator's answer.
type Result struct {
	// Decision is Allowed, ExplicitlyDenied or ImplicitlyDenied.
	Decision string
	// IgnoredContextKeys are context keys the evaluator dropped because
	// they do not apply to the action or resource.
	IgnoredContextKeys []string
}

// Evaluate asks the evaluator about sim. Invalid policies, evaluator errors
// and ignored context keys not in sim.MayIgnore fail the test.
func (s *Simulator) Evaluate(t testing.TB, sim Simulation) Result {
	t.Helper()
	body, err := s.encode(sim)
	if err != nil {
		t.Fatalf("iamsim: %v", err)
	}
	var ans struct {
		ID                 int             `json:"id"`
		ResultType         string          `json:"resultType"`
		OverallResult      string          `json:"overallResult"`
		IgnoredContextKeys []string        `json:"ignoredContextKeys"`
		Errors             json.RawMessage `json:"errors"`
		Error              string          `json:"error"`
	}
	line, err := s.roundTrip(body)
	if err != nil {
		t.Fatalf("iamsim: %v; stderr:\n%s", err, s.stderrText())
	}
	if err := json.Unmarshal(line, &ans); err != nil {
		t.Fatalf("iamsim: bad answer %q: %v", line, err)
	}
	switch {
	case ans.Error != "":
		t.Fatalf("iamsim: evaluator failed on %s: %s", body, ans.Error)
	case ans.ResultType == "error":
		t.Fatalf("iamsim: evaluator refused the simulation (invalid policy or request): %s\nsimulation: %s", ans.Errors, body)
	}
	for _, k := range ans.IgnoredContextKeys {
		if !slices.Contains(sim.MayIgnore, k) {
			t.Fatalf("iamsim: the evaluator ignored context key %s for %s (it does not apply to that action); "+
				"the test would not check what it claims", k, sim.Request.Action)
		}
	}
	return Result{Decision: ans.OverallResult, IgnoredContextKeys: ans.IgnoredContextKeys}
}

// Decide is Evaluate's decision.
func (s *Simulator) Decide(t testing.TB, sim Simulation) string {
	t.Helper()
	return s.Evaluate(t, sim).Decision
}

func (s *Simulator) encode(sim Simulation) ([]byte, error) {
	doc := func(what, text string) (json.RawMessage, error) {
		if !json.Valid([]byte(text)) {
			return nil, fmt.Errorf("%s is not JSON: %q", what, text)
		}
		return json.RawMessage(text), nil
	}
	type named struct {
		Name   string          `json:"name"`
		Policy json.RawMessage `json:"policy"`
	}
	ctxVars := map[string]any{}
	for k, v := range sim.Request.Context {
		switch v.(type) {
		case string, []string:
			ctxVars[k] = v
		default:
			return nil, fmt.Errorf("context key %s: want a string or []string, got %T", k, v)
		}
	}
	req := map[string]any{
		"principal": sim.Request.Principal,
		"action":    sim.Request.Action,
		"resource": map[string]string{
			"resource":  sim.Request.Resource,
			"accountId": sim.Request.ResourceAccount,
		},
		"contextVariables": ctxVars,
	}
	m := map[string]any{
		"request":                 req,
		"identityPolicies":        []named{},
		"serviceControlPolicies":  []any{},
		"resourceControlPolicies": []any{},
	}
	var ids []named
	for _, p := range sim.IdentityPolicies {
		d, err := doc("identity policy "+p.Name, p.Document)
		if err != nil {
			return nil, err
		}
		ids = append(ids, named{Name: p.Name, Policy: d})
	}
	if ids != nil {
		m["identityPolicies"] = ids
	}
	if sim.SessionPolicy != "" {
		d, err := doc("session policy", sim.SessionPolicy)
		if err != nil {
			return nil, err
		}
		m["sessionPolicy"] = d
	}
	if sim.ResourcePolicy != "" {
		d, err := doc("resource policy", sim.ResourcePolicy)
		if err != nil {
			return nil, err
		}
		m["resourcePolicy"] = d
	}
	return json.Marshal(map[string]any{"simulation": m})
}

// roundTrip sends one line and reads the answer; one request at a time.
func (s *Simulator) roundTrip(line []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.in.Write(append(line, '\n')); err != nil {
		return nil, fmt.Errorf("write to simulate.js: %w", err)
	}
	if !s.out.Scan() {
		if err := s.out.Err(); err != nil {
			return nil, fmt.Errorf("read from simulate.js: %w", err)
		}
		return nil, fmt.Errorf("simulate.js exited")
	}
	return slices.Clone(s.out.Bytes()), nil
}

func (s *Simulator) stderrText() string {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.stderr.String()
}

// lockedWriter guards the stderr buffer the process writes from its own
// goroutine.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
