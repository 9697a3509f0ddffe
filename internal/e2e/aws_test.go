package e2e

import (
	"slices"

	"encoding/json"
	"fmt"
	"os"

	"github.com/99designs/keyring"

	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/credcache"
)

const awsCLI = "/usr/bin/aws" // Debian's AWS CLI v2; a pyenv v1 shim may come first on PATH

func needAWSCLI(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(awsCLI); err != nil {
		t.Fatalf("%s missing: run make deps (apt-get install awscli)", awsCLI)
	}
}

// TestAWSCLIAndBoto3UseAnApprovedGrantUntilItEnds is the whole loop: alice
// asks for admin, bob approves, the AWS CLI and boto3 use the grant through
// jit configure aws's credential_process; when the grant ends the same
// command fails with jit's message and the keyring no longer holds it.
func TestAWSCLIAndBoto3UseAnApprovedGrantUntilItEnds(t *testing.T) {
	needAWSCLI(t)
	w := newWorld(t)
	alice, bob := w.user("alice"), w.user("bob")
	alice.login()
	bob.login()

	alice.must("configure", "aws")
	cfg, _ := os.ReadFile(filepath.Join(w.dir, "alice", "aws-config"))
	// The profile runs the slim binary beside jit, by its absolute path.
	slim := filepath.Join(filepath.Dir(testenv.JitBinary(t)), "jit-credential-process")
	if !strings.Contains(string(cfg), "[profile admin]") || !strings.Contains(string(cfg), "credential_process = "+slim+" --role admin") {
		t.Fatalf("aws config does not run %s:\n%s", slim, cfg)
	}
	// A profile an older jit wrote (jit on PATH, its subcommand) keeps working.
	legacy := fmt.Sprintf("\n[profile legacy-admin]\ncredential_process = %s credential-process --role admin --server %s\n", testenv.JitBinary(t), w.server)
	if err := os.WriteFile(filepath.Join(w.dir, "alice", "aws-config"), append(cfg, legacy...), 0o600); err != nil {
		t.Fatal(err)
	}
	if again, errOut, _ := alice.run("configure", "aws"); again != "" || !strings.Contains(errOut, "up to date") {
		t.Fatalf("second configure changed something: %q %q", again, errOut)
	}

	// Without a grant, the AWS CLI gets jit's message.
	aws := func(args ...string) (string, string, int) {
		return alice.run(append([]string{awsCLI, "--profile", "admin", "--endpoint-url", w.minio.Endpoint(), "--region", w.minio.Region()}, args...)...)
	}
	if _, errOut, code := aws("s3", "ls", "s3://"+w.bucket); code == 0 || !strings.Contains(errOut, "jit request admin") {
		t.Fatalf("no grant: exit %d, stderr %q", code, errOut)
	}

	out, errOut, code := alice.run("request", "admin", "--reason", "e2e", "--for", "25s", "--no-wait", "-o", "json")
	var req struct {
		ID    string
		State string
	}
	if code != 8 || json.Unmarshal([]byte(out), &req) != nil || req.State != "pending" {
		t.Fatalf("request --no-wait: exit %d (want 8, pending)\n%s\n%s", code, out, errOut)
	}
	// alice cannot approve her own request.
	if _, errOut, code := alice.run("approve", req.ID); code == 0 || !strings.Contains(errOut, "own") {
		t.Fatalf("self-approval: exit %d %q", code, errOut)
	}
	// alice waits; bob approves; the waiting CLI gets the credentials.
	waited := make(chan string, 1)
	go func() {
		_, errOut, code := alice.run("wait", req.ID)
		if code != 0 {
			errOut = "FAILED: " + errOut
		}
		waited <- errOut
	}()
	time.Sleep(500 * time.Millisecond) // let the waiter subscribe; it would also see the approval later
	bob.must("approve", req.ID, "--comment", "ok for e2e")
	if msg := <-waited; !strings.Contains(msg, "granted until") {
		t.Fatalf("jit wait: %s", msg)
	}

	// The AWS CLI now lists and puts through credential_process.
	if out, errOut, code := aws("s3", "ls", "s3://"+w.bucket); code != 0 {
		t.Fatalf("aws s3 ls with a grant: exit %d %s %s", code, out, errOut)
	}
	// The profile an older jit wrote serves the same grant.
	if out, errOut, code := alice.run(awsCLI, "--profile", "legacy-admin", "--endpoint-url", w.minio.Endpoint(), "--region", w.minio.Region(), "s3", "ls", "s3://"+w.bucket); code != 0 {
		t.Fatalf("aws s3 ls through an old-style profile: exit %d %s %s", code, out, errOut)
	}
	src := filepath.Join(w.dir, "hello.txt")
	os.WriteFile(src, []byte("hello from jit"), 0o600)
	if out, errOut, code := aws("s3", "cp", src, "s3://"+w.bucket+"/hello.txt"); code != 0 {
		t.Fatalf("aws s3 cp: exit %d %s %s", code, out, errOut)
	}
	// boto3 through the same profile.
	py := `import boto3,sys
s=boto3.session.Session(profile_name="admin")
c=s.client("s3",endpoint_url=sys.argv[1],region_name=sys.argv[2])
print(",".join(o["Key"] for o in c.list_objects_v2(Bucket=sys.argv[3]).get("Contents",[])))`
	if out, errOut, code := alice.run("/usr/bin/python3", "-c", py, w.minio.Endpoint(), w.minio.Region(), w.bucket); code != 0 || !strings.Contains(out, "hello.txt") {
		t.Fatalf("boto3: exit %d %q %q", code, out, errOut)
	}
	if !alice.hasCachedCredentials(t, "admin") {
		t.Fatal("the keyring holds no credentials while the grant lives")
	}

	// After the grant's end: refused, with jit's message, and wiped.
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, errOut, code := aws("s3", "ls", "s3://"+w.bucket)
		if code != 0 {
			if !strings.Contains(errOut, "no active grant for role admin") || !strings.Contains(errOut, "jit request admin") {
				t.Fatalf("after the grant: exit %d, stderr %q", code, errOut)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the AWS CLI still works 60s after a 25s grant")
		}
		time.Sleep(time.Second)
	}
	if alice.hasCachedCredentials(t, "admin") {
		t.Fatal("the keyring still holds the ended grant's credentials")
	}
}

// hasCachedCredentials lists the user's file keyring with the keyring
// library itself, so an item is seen whether or not it has expired.
func (u *user) hasCachedCredentials(t *testing.T, role string) bool {
	t.Helper()
	env := u.envMap()
	kr, err := keyring.Open(keyring.Config{ServiceName: "jit", AllowedBackends: []keyring.BackendType{keyring.FileBackend},
		FileDir: env["JIT_KEYRING_FILE_DIR"], FilePasswordFunc: keyring.FixedStringPrompt(env["JIT_FILE_PASSPHRASE"])})
	if err != nil {
		t.Fatal(err)
	}
	key, err := credcache.CredentialsKey(u.w.server, role)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kr.Keys()
	if err != nil {
		t.Fatal(err)
	}
	return slices.Contains(keys, key)
}
