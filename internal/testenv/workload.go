package testenv

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// GitHubActionsClaims are the claims GitHub Actions puts in a job's OIDC
// token (docs.github.com, "About security hardening with OpenID Connect"),
// for a job of repo ("octo/app", ids derived from it) on ref, in
// environment (may be ""), run runID. sub is built as GitHub builds it.
func GitHubActionsClaims(repo, ref, environment, runID string) map[string]any {
	owner, _, _ := cutOwner(repo)
	sub := "repo:" + repo + ":ref:" + ref
	if environment != "" {
		sub = "repo:" + repo + ":environment:" + environment
	}
	c := map[string]any{
		"sub": sub, "repository": repo, "repository_owner": owner,
		"repository_id": strconv.Itoa(idOf(repo)), "repository_owner_id": strconv.Itoa(idOf(owner)),
		"ref": ref, "ref_type": "branch", "sha": "4f1ca9d2c0f1e7b3a5c6d7e8f9a0b1c2d3e4f5a6",
		"workflow": "deploy", "job_workflow_ref": repo + "/.github/workflows/deploy.yml@" + ref,
		"run_id": runID, "run_number": "7", "run_attempt": "1", "actor": "octocat", "event_name": "push",
		"runner_environment": "github-hosted",
	}
	if environment != "" {
		c["environment"] = environment
	}
	return c
}

// KubernetesClaims are a projected service-account token's claims for
// service account sa in namespace ns.
func KubernetesClaims(ns, sa string) map[string]any {
	return map[string]any{
		"sub": "system:serviceaccount:" + ns + ":" + sa,
		"kubernetes.io": map[string]any{
			"namespace":      ns,
			"serviceaccount": map[string]any{"name": sa, "uid": fmt.Sprintf("uid-%d", idOf(ns+"/"+sa))},
			"pod":            map[string]any{"name": sa + "-7d9f-x2x4z", "uid": "pod-uid-1"},
		},
	}
}

func cutOwner(repo string) (owner, name string, ok bool) {
	for i := range repo {
		if repo[i] == '/' {
			return repo[:i], repo[i+1:], true
		}
	}
	return repo, "", false
}

// idOf is a stable made-up numeric id for a name (GitHub's ids are numbers).
func idOf(s string) int {
	h := 17
	for _, c := range s {
		h = (h*31 + int(c)) % 1_000_000_007
	}
	return h
}

// WorkloadToken fetches a workload token for the configured profile with
// audience aud, signed by the provider's key (published in its JWKS), the
// way a GitHub job calls ACTIONS_ID_TOKEN_REQUEST_URL: the caller picks the
// audience, the provider the claims.
func (p *OIDCProviderIdP) WorkloadToken(t testing.TB, profile, aud string) string {
	t.Helper()
	return p.WorkloadTokenTTL(t, profile, aud, 0)
}

// WorkloadTokenTTL is WorkloadToken with a lifetime (0: 5 minutes).
func (p *OIDCProviderIdP) WorkloadTokenTTL(t testing.TB, profile, aud string, ttl time.Duration) string {
	t.Helper()
	q := url.Values{"profile": {profile}, "audience": {aud}}
	if ttl > 0 {
		q.Set("ttl", strconv.Itoa(int(ttl/time.Second)))
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, p.issuer+"/jit-test/workload-token?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("testenv: workload token: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out struct{ Value string }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &out) != nil || out.Value == "" {
		t.Fatalf("testenv: workload token %s: %s %s", profile, resp.Status, body)
	}
	return out.Value
}
