package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
)

// endpointChild is what runs under jit exec: every half second one boto3
// call and one AWS CLI v2 call, both through the credentials endpoint the
// environment names. It prints "ok KEY" per round, and on the first failure
// "ERR msg" (boto3) and "CLIERR msg" (the CLI), then exits 3.
const endpointChild = `import boto3, os, subprocess, sys, time
ep, region, bucket, stop = sys.argv[1:5]
assert "AWS_ACCESS_KEY_ID" not in os.environ and "AWS_SECRET_ACCESS_KEY" not in os.environ, "static keys in the environment"
print("uri", os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"], flush=True)
s = boto3.session.Session()
c = s.client("s3", endpoint_url=ep, region_name=region)
while not os.path.exists(stop):
    try:
        c.list_objects_v2(Bucket=bucket)
        cr = s.get_credentials()
        key = cr.get_frozen_credentials().access_key + " " + str(getattr(cr, "_expiry_time", ""))
    except Exception as e:
        print("ERR", str(e).replace("\n", " "), flush=True)
        r = subprocess.run(["/usr/bin/aws", "s3", "ls", "s3://" + bucket, "--endpoint-url", ep, "--region", region], capture_output=True, text=True)
        print("CLIERR", r.returncode, r.stderr.replace("\n", " "), flush=True)
        sys.exit(3)
    r = subprocess.run(["/usr/bin/aws", "s3", "ls", "s3://" + bucket, "--endpoint-url", ep, "--region", region], capture_output=True, text=True)
    if r.returncode != 0:
        print("ERR cli:", r.stderr.replace("\n", " "), flush=True)
        sys.exit(4)
    print("ok", key, flush=True)
    time.sleep(0.5)
`

// TestExecEndpointKeepsAChildWorkingAcrossAReVendAndStopsItOnRevoke runs a
// boto3 + AWS CLI child under `jit exec` with no static keys: it keeps
// working past its first credentials' end because the grant was extended
// (the endpoint re-vends from MinIO's STS), and its next refresh after a
// revoke fails with jit's message while the cached item is wiped.
func TestExecEndpointKeepsAChildWorkingAcrossAReVendAndStopsItOnRevoke(t *testing.T) {
	needAWSCLI(t)
	w := newWorld(t)
	alice, bob := w.user("alice"), w.user("bob")
	alice.login()
	bob.login()
	out := alice.must("request", "longjob", "--reason", "long job", "--for", "20s", "-o", "json")
	var req struct {
		ID     string
		EndsAt time.Time `json:"ends_at"`
	}
	if err := json.Unmarshal([]byte(out), &req); err != nil || req.ID == "" {
		t.Fatalf("request: %v\n%s", err, out)
	}
	firstEnd := req.EndsAt

	script := filepath.Join(w.dir, "child.py")
	stop := filepath.Join(w.dir, "stop")
	if err := os.WriteFile(script, []byte(endpointChild), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.JitBinary(t), "exec", "longjob", "--", "/usr/bin/python3", script, w.minio.Endpoint(), w.minio.Region(), w.bucket, stop)
	cmd.Env = alice.env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func() string {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the child ended early; jit stderr:\n%s", stderr.String())
			}
			return l
		case <-ctx.Done():
			t.Fatalf("no output from the child; jit stderr:\n%s", stderr.String())
		}
		return ""
	}
	if l := next(); !strings.HasPrefix(l, "uri http://127.0.0.1:") {
		t.Fatalf("child's first line %q: want the loopback endpoint", l)
	}
	first := next()
	if !strings.HasPrefix(first, "ok ") {
		t.Fatalf("first call: %q", first)
	}
	// Extend past the first credentials' end (they end with the 20 s grant).
	alice.must("extend", req.ID, "--for", "40s", "--reason", "job still running")
	firstKey, _, _ := strings.Cut(strings.TrimPrefix(first, "ok "), " ")
	keys := map[string]bool{firstKey: true}
	seen := []string{first}
	for time.Now().Before(firstEnd.Add(5 * time.Second)) {
		l := next()
		seen = append(seen, time.Now().Format("15:04:05.000 ")+l)
		if !strings.HasPrefix(l, "ok ") {
			t.Fatalf("the child failed inside the extended grant: %q\njit stderr:\n%s", l, stderr.String())
		}
		key, _, _ := strings.Cut(strings.TrimPrefix(l, "ok "), " ")
		keys[key] = true
	}
	if len(keys) < 2 {
		t.Fatalf("the child used %d access key(s) across the first credentials' end (%s); want a re-vend\n%s", len(keys), firstEnd, strings.Join(seen, "\n"))
	}
	if !alice.hasCachedCredentials(t, "longjob") {
		t.Fatal("no cached credentials while the grant lives")
	}

	// bob revokes: the child's next refresh fails with jit's message.
	bob.must("revoke", req.ID, "--reason", "incident over")
	revoked := time.Now()
	var errLine, cliLine string
	for errLine == "" || cliLine == "" {
		l := next()
		switch {
		case strings.HasPrefix(l, "ERR "):
			errLine = l
		case strings.HasPrefix(l, "CLIERR "):
			cliLine = l
		}
	}
	t.Logf("boto3 refused %s after the revoke: %s", time.Since(revoked).Round(time.Millisecond), errLine)
	for _, l := range []string{errLine, cliLine} {
		if !strings.Contains(l, "jit: the grant "+req.ID+" for role longjob was revoked by bob") || !strings.Contains(l, "incident over") {
			t.Errorf("refusal without jit's message: %q", l)
		}
	}
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Errorf("jit exec ended with %v; want the child's exit 3", err)
	}
	if alice.hasCachedCredentials(t, "longjob") {
		t.Error("the revoked grant's credentials are still cached")
	}
}
