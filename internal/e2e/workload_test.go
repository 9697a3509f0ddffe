package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
)

// ciAudience is what the CI jobs ask their issuer for (GitHub:
// core.getIDToken(aud)); the jit server's issuers: entry expects it.
const ciAudience = "https://jit.e2e/ci"

// workloadWorld is a world whose server also trusts an oidc-provider as
// the GitHub-flavoured workload issuer "github"; deploy is for octo/app's
// main branch, read-only on S3, and waits for one approver.
func workloadWorld(t *testing.T) (*world, *testenv.OIDCProviderIdP) {
	t.Helper()
	main := testenv.GitHubActionsClaims("octo/app", "refs/heads/main", "", "4242")
	ci := testenv.OIDCProvider(t, testenv.OIDCProviderOptions{Workloads: map[string]map[string]any{
		"main":    main,
		"feature": testenv.GitHubActionsClaims("octo/app", "refs/heads/feature", "", "4243"),
		"fork":    testenv.GitHubActionsClaims("evil/app", "refs/heads/main", "", "4244"),
	}})
	deploy := testenv.NewRole("deploy", "default_duration", "10m", "max_duration", "1h", "session_policy", "|\n"+testenv.S3ReadSessionPolicy,
		"eligible", fmt.Sprintf("{workloads: [{issuer: github, claims: {repository_id: %q, repository: octo/app, ref: refs/heads/main}}]}", main["repository_id"]))
	w := newWorldWith(t, worldOptions{
		extraConfig: fmt.Sprintf("issuers:\n  - {name: github, kind: workload, flavor: github, issuer: %q, audience: %q}\n", ci.Issuer(), ciAudience),
		policy:      testenv.Policy(deploy),
	})
	return w, ci
}

// ciJob is a CI job's environment: no login, no keyring; the job's token
// is in a file the job wrote, as a GitHub step writes core.getIDToken's.
func (w *world) ciJob(t *testing.T, ci *testenv.OIDCProviderIdP, profile string) (*user, string) {
	t.Helper()
	job := w.user("ci-" + profile)
	tokenFile := filepath.Join(job.Home, "id-token")
	if err := os.WriteFile(tokenFile, []byte(ci.WorkloadToken(t, profile, ciAudience)), 0o600); err != nil {
		t.Fatal(err)
	}
	job.Env = append(job.Env, "JIT_ID_TOKEN_FILE="+tokenFile, "JIT_KEYRING_BACKEND=none")
	job.User.Env = job.Env
	return job, tokenFile
}

// TestCIJobWaitsForAPersonThenUsesTheGrantWithTheAWSCLI: a CI-like script
// presents its workload token, asks for deploy and blocks; bob approves in
// the CLI; the script's `jit exec` runs the AWS CLI against MinIO with the
// grant, and nothing was written to a keyring.
func TestCIJobWaitsForAPersonThenUsesTheGrantWithTheAWSCLI(t *testing.T) {
	needAWSCLI(t)
	w, ci := workloadWorld(t)
	bob := w.user("bob")
	bob.login()
	job, tokenFile := w.ciJob(t, ci, "main")

	out := job.must("--keyring", "none", "login", "--id-token-file", tokenFile)
	if !strings.Contains(out, "as repo:octo/app:ref:refs/heads/main (workload of issuer github)") || !strings.Contains(out, "not kept") {
		t.Fatalf("login with the job's token: %q", out)
	}
	type result struct {
		out, errOut string
		code        int
	}
	done := make(chan result, 1)
	go func() {
		out, errOut, code := job.run("request", "deploy", "--reason", "deploy run 4242", "-o", "json")
		done <- result{out, errOut, code}
	}()
	var pending []struct{ ID, Requester string }
	testenv.Eventually(t, 30*time.Second, func() bool {
		out, _, code := bob.run("requests", "--pending", "-o", "json")
		return code == 0 && json.Unmarshal([]byte(out), &pending) == nil && len(pending) == 1
	}, "the job's request to be pending for bob")
	// The job cannot approve its own request, nor any other.
	if _, errOut, code := job.run("approve", pending[0].ID); code != 5 || !strings.Contains(errOut, "workloads never approve") {
		t.Fatalf("the job approving: exit %d %q", code, errOut)
	}
	bob.must("approve", pending[0].ID)
	var r result
	select {
	case r = <-done:
	case <-time.After(time.Minute):
		t.Fatal("the job's jit request did not return after the approval")
	}
	if r.code != 0 || !strings.Contains(r.out, `"approved"`) {
		t.Fatalf("the job's request: exit %d\n%s\n%s", r.code, r.out, r.errOut)
	}
	ls, errOut, code := job.run("exec", "deploy", "--", awsCLI, "--endpoint-url", w.minio.Endpoint(), "--region", w.minio.Region(), "s3", "ls", "s3://"+w.bucket)
	if code != 0 {
		t.Fatalf("jit exec deploy -- aws s3 ls: exit %d\n%s\n%s", code, ls, errOut)
	}
	// The session policy holds: read-only.
	if _, _, code := job.run("exec", "deploy", "--", awsCLI, "--endpoint-url", w.minio.Endpoint(), "--region", w.minio.Region(), "s3", "mb", "s3://made-by-ci"); code == 0 {
		t.Fatal("the read-only deploy session created a bucket")
	}
	// Nothing of the job's was kept: no keyring directory, no config.
	if entries, _ := os.ReadDir(filepath.Join(job.Home, "keyring")); len(entries) > 0 {
		t.Fatalf("the job's keyring holds %d item(s)", len(entries))
	}
}

func TestCIJobFromAnotherBranchOrRepositoryIsRefusedWithTheClaimNamed(t *testing.T) {
	w, ci := workloadWorld(t)
	for profile, want := range map[string]string{
		"feature": `claim ref is "refs/heads/feature", policy wants "refs/heads/main"`,
		"fork":    `claim repository is "evil/app", policy wants "octo/app"`,
	} {
		job, _ := w.ciJob(t, ci, profile)
		_, errOut, code := job.run("request", "deploy", "--reason", "x")
		if code != 5 || !strings.Contains(errOut, want) {
			t.Errorf("%s: exit %d (want 5), stderr %q; want %s", profile, code, errOut, want)
		}
	}
	// A token for another audience never gets in.
	job := w.user("ci-confused")
	job.Env = append(job.Env, "JIT_ID_TOKEN="+ci.WorkloadToken(t, "main", "https://other.example"), "JIT_KEYRING_BACKEND=none")
	job.User.Env = job.Env
	if _, errOut, code := job.run("request", "deploy", "--reason", "x"); code != 4 || !strings.Contains(errOut, "audience") {
		t.Errorf("a token for another audience: exit %d (want 4), stderr %q", code, errOut)
	}
}
