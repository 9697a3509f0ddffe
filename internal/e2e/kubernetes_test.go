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

// No Kubernetes API server runs in this suite, so these tests do not use
// one: the issuer is npm's oidc-provider (a real, independent OIDC provider:
// its discovery document and JWKS are what the jit server fetches and
// verifies against), issuing tokens shaped like a projected service-account
// token — iss, aud set by the caller, sub system:serviceaccount:NS:NAME and
// the kubernetes.io claims (namespace, serviceaccount, pod) — and the pod is
// the jit binary reading the token from a file, as a pod mounts one. What
// this does not check: Kubernetes' own token issuance and its OIDC discovery
// (docs/workloads.md, "Kubernetes").

// k8sAudience is what the pod's serviceAccountToken volume asks for.
const k8sAudience = "https://jit.e2e/k8s"

// kubernetesWorld trusts an oidc-provider as the kubernetes-flavoured
// workload issuer "cluster"; deploy-k8s is for the service account deployer
// in namespace deploy (read-only on S3) and waits for one approver.
func kubernetesWorld(t *testing.T) (*world, *testenv.OIDCProviderIdP) {
	t.Helper()
	cluster := testenv.OIDCProvider(t, testenv.OIDCProviderOptions{Workloads: map[string]map[string]any{
		"deployer": testenv.KubernetesClaims("deploy", "deployer"),
		"intruder": testenv.KubernetesClaims("deploy", "intruder"),
		"other-ns": testenv.KubernetesClaims("dev", "deployer"),
	}})
	role := testenv.NewRole("deploy-k8s", "default_duration", "10m", "max_duration", "1h", "session_policy", "|\n"+testenv.S3ReadSessionPolicy,
		"eligible", "{workloads: [{issuer: cluster, claims: {namespace: deploy, serviceaccount: deployer}}]}")
	w := newWorldWith(t, worldOptions{
		extraConfig: fmt.Sprintf("issuers:\n  - {name: cluster, kind: workload, flavor: kubernetes, issuer: %q, audience: %q}\n", cluster.Issuer(), k8sAudience),
		policy:      testenv.Policy(role),
	})
	return w, cluster
}

// pod is a pod's environment: no login, no keyring, the projected token
// at a path the kubelet writes (and rewrites on rotation).
func (w *world) pod(t *testing.T, cluster *testenv.OIDCProviderIdP, sa string) (*user, string) {
	t.Helper()
	p := w.user("pod-" + sa)
	tokenFile := filepath.Join(p.Home, "var-run-secrets-tokens", "jit")
	if err := os.MkdirAll(filepath.Dir(tokenFile), 0o700); err != nil {
		t.Fatal(err)
	}
	writeToken(t, tokenFile, cluster.WorkloadToken(t, sa, k8sAudience))
	p.Env = append(p.Env, "JIT_ID_TOKEN_FILE="+tokenFile, "JIT_KEYRING_BACKEND=none")
	p.User.Env = p.Env
	return p, tokenFile
}

// writeToken replaces the token file the way the kubelet does (a new file
// moved into place), so a reader sees the old token or the new one.
func writeToken(t *testing.T, path, token string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestPodWithAServiceAccountTokenWaitsForAPersonThenUsesTheGrant: the pod's
// jit request blocks until bob approves in the CLI; the pod's jit exec runs
// the AWS CLI against MinIO with the grant; the token file is read on every
// call, so a rotated token is used from the next call on.
func TestPodWithAServiceAccountTokenWaitsForAPersonThenUsesTheGrant(t *testing.T) {
	needAWSCLI(t)
	w, cluster := kubernetesWorld(t)
	bob := w.user("bob")
	bob.login()
	pod, tokenFile := w.pod(t, cluster, "deployer")

	if out := pod.must("login", "--id-token-file", tokenFile); !strings.Contains(out, "as system:serviceaccount:deploy:deployer (workload of issuer cluster)") {
		t.Fatalf("login with the pod's token: %q", out)
	}
	type result struct {
		out, errOut string
		code        int
	}
	done := make(chan result, 1)
	go func() {
		out, errOut, code := pod.run("request", "deploy-k8s", "--reason", "rollout 7", "-o", "json")
		done <- result{out, errOut, code}
	}()
	var pending []struct{ ID, Requester string }
	testenv.Eventually(t, 30*time.Second, func() bool {
		out, _, code := bob.run("requests", "--pending", "-o", "json")
		return code == 0 && json.Unmarshal([]byte(out), &pending) == nil && len(pending) == 1
	}, "the pod's request to be pending for bob")
	if pending[0].Requester != "system:serviceaccount:deploy:deployer" {
		t.Fatalf("bob sees the request from %q", pending[0].Requester)
	}
	if _, errOut, code := pod.run("approve", pending[0].ID); code != 5 || !strings.Contains(errOut, "workloads never approve") {
		t.Fatalf("the pod approving its own request: exit %d %q", code, errOut)
	}
	bob.must("approve", pending[0].ID)
	var r result
	select {
	case r = <-done:
	case <-time.After(time.Minute):
		t.Fatal("the pod's jit request did not return after the approval")
	}
	if r.code != 0 || !strings.Contains(r.out, `"approved"`) {
		t.Fatalf("the pod's request: exit %d\n%s\n%s", r.code, r.out, r.errOut)
	}
	ls := func() (string, string, int) {
		return pod.run("exec", "deploy-k8s", "--", awsCLI, "--endpoint-url", w.minio.Endpoint(), "--region", w.minio.Region(), "s3", "ls", "s3://"+w.bucket)
	}
	if out, errOut, code := ls(); code != 0 {
		t.Fatalf("jit exec deploy-k8s -- aws s3 ls: exit %d\n%s\n%s", code, out, errOut)
	}
	// The file is read on every call: a token for another audience in its
	// place is refused at once, and the next rotation works again.
	writeToken(t, tokenFile, cluster.WorkloadToken(t, "deployer", "https://other.example"))
	if _, errOut, code := ls(); code != 4 || !strings.Contains(errOut, "audience") {
		t.Fatalf("after the file held another audience's token: exit %d (want 4), stderr %q", code, errOut)
	}
	writeToken(t, tokenFile, cluster.WorkloadToken(t, "deployer", k8sAudience))
	if out, errOut, code := ls(); code != 0 {
		t.Fatalf("after the token rotated: exit %d\n%s\n%s", code, out, errOut)
	}
	// Nothing was kept in a keyring.
	if entries, _ := os.ReadDir(filepath.Join(pod.Home, "keyring")); len(entries) > 0 {
		t.Fatalf("the pod's keyring holds %d item(s)", len(entries))
	}
}

// TestPodOfAnotherServiceAccountOrNamespaceIsRefusedWithTheClaimNamed: the
// policy pins the namespace and the service account; a token of another
// service account in the same namespace, or of the same name in another
// namespace, is refused and the refusal names the claim.
func TestPodOfAnotherServiceAccountOrNamespaceIsRefusedWithTheClaimNamed(t *testing.T) {
	w, cluster := kubernetesWorld(t)
	for sa, want := range map[string]string{
		"intruder": `claim kubernetes.io/serviceaccount/name is "intruder", policy wants "deployer"`,
		"other-ns": `claim kubernetes.io/namespace is "dev", policy wants "deploy"`,
	} {
		pod, _ := w.pod(t, cluster, sa)
		_, errOut, code := pod.run("request", "deploy-k8s", "--reason", "x")
		if code != 5 || !strings.Contains(errOut, want) {
			t.Errorf("%s: exit %d (want 5), stderr %q; want %s", sa, code, errOut, want)
		}
	}
}
