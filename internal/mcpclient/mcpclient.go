// Package mcpclient is a second, independent MCP client for jit's tests:
// npm's @modelcontextprotocol/sdk (pinned by node/package-lock.json,
// installed by scripts/deps.sh) runs as a Node.js program that starts an MCP
// server command over stdio — `jit mcp`, as an agent starts it — and calls
// its tools when the test asks. It checks jit's MCP server against a client
// that shares no code with the Go SDK jit is built on.
//
// A missing node or npm package is a missing peer (testenv.MissingPeer:
// fails under CI=true, skips elsewhere).
package mcpclient

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
	"sync"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
)

// Version is the @modelcontextprotocol/sdk version node/package.json pins;
// Start checks that this is the one installed.
const Version = "1.32.2"

// Dir is where client.js and its package-lock.json live.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "node")
}

const install = "run scripts/deps.sh, or: cd internal/mcpclient/node && npm ci"

// find returns node's path, or an error naming the install command when
// node or the pinned npm package in dir is missing.
func find(lookPath func(string) (string, error), dir string) (string, error) {
	node, err := lookPath("node")
	if err != nil {
		return "", fmt.Errorf("node not found on PATH: install Node.js 20+ (apt-get install nodejs npm), then %s", install)
	}
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", "@modelcontextprotocol", "sdk", "package.json"))
	if err != nil {
		return "", fmt.Errorf("npm package @modelcontextprotocol/sdk missing in %s: %s", dir, install)
	}
	var pkg struct{ Version string }
	if json.Unmarshal(b, &pkg) != nil || pkg.Version != Version {
		return "", fmt.Errorf("@modelcontextprotocol/sdk %q installed in %s, want %s: %s", pkg.Version, dir, Version, install)
	}
	return node, nil
}

// Result is a tool call's result as the npm SDK returns it.
type Result struct {
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	StructuredContent json.RawMessage `json:"structuredContent"`
	IsError           bool            `json:"isError"`
}

// Text is the result's text content, joined by newlines.
func (r Result) Text() string {
	var s string
	for i, c := range r.Content {
		if i > 0 {
			s += "\n"
		}
		s += c.Text
	}
	return s
}

// Client is one running Node client connected to its server command.
type Client struct {
	mu  sync.Mutex // one call at a time
	in  io.WriteCloser
	out *bufio.Scanner
	// Server is the server's name and version from its initialize answer.
	Server struct{ Name, Version string }
}

// Start runs the Node client named name (its MCP clientInfo name), which
// starts command (with args) as its MCP server with env as the environment
// of both; it is stopped when the test ends.
func Start(t testing.TB, name string, env []string, command string, args ...string) *Client {
	t.Helper()
	testenv.SkipPeerInShortMode(t, "node's MCP client")
	dir := Dir()
	node, err := find(exec.LookPath, dir)
	if err != nil {
		testenv.MissingPeer(t, "mcpclient: "+err.Error())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, append([]string{filepath.Join(dir, "client.js"), name, command}, args...)...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stderr = testWriter{t}
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
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("mcpclient: start node: %v", err)
	}
	t.Cleanup(func() {
		stdin.Close()
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
	c := &Client{in: stdin, out: bufio.NewScanner(stdout)}
	c.out.Buffer(make([]byte, 0, 1<<16), 1<<24)
	var hello struct {
		Server struct{ Name, Version string }
	}
	if err := c.read(&hello); err != nil {
		t.Fatalf("mcpclient: the node client did not connect to %s: %v", command, err)
	}
	c.Server = hello.Server
	return c
}

// read decodes the next answer's result into out.
func (c *Client) read(out any) error {
	if !c.out.Scan() {
		if err := c.out.Err(); err != nil {
			return err
		}
		return io.ErrUnexpectedEOF
	}
	var ans struct {
		OK     bool            `json:"ok"`
		Error  string          `json:"error"`
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(c.out.Bytes(), &ans); err != nil {
		return fmt.Errorf("decode %q: %w", c.out.Bytes(), err)
	}
	if !ans.OK {
		return fmt.Errorf("node client: %s", ans.Error)
	}
	return json.Unmarshal(ans.Result, out)
}

func (c *Client) ask(msg any, out any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if _, err := c.in.Write(append(b, '\n')); err != nil {
		return err
	}
	return c.read(out)
}

// ListTools returns the names of the server's tools.
func (c *Client) ListTools() ([]string, error) {
	var res struct {
		Tools []struct{ Name string } `json:"tools"`
	}
	if err := c.ask(map[string]string{"op": "list_tools"}, &res); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(res.Tools))
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
	}
	return names, nil
}

// Call calls tool with args. A tool's own error is a Result with IsError;
// an error is a protocol, schema or transport failure.
func (c *Client) Call(tool string, args map[string]any) (Result, error) {
	var res Result
	err := c.ask(map[string]any{"op": "call", "name": tool, "arguments": args}, &res)
	return res, err
}

// testWriter sends the node process's stderr to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("mcp client stderr: %s", p)
	return len(p), nil
}
