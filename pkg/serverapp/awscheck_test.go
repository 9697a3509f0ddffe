package serverapp_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/fakeiam"
	jitconfig "github.com/jit-access/jit/pkg/config"
	"github.com/jit-access/jit/pkg/serverapp"
)

// CheckAWS builds its STS vendor and IAM revoker from the config the way
// the server does: against internal/fakeiam (a FAKE of STS and IAM), with
// the config's static keys, endpoints and revoker.
func TestCheckAWSUsesTheServersOwnCredentialsEndpointsAndRevokers(t *testing.T) {
	f := fakeiam.New(t)
	f.AddAssumableRole("arn:aws:iam::222222222222:role/jit-prod", "")
	f.AddAssumableRole("arn:aws:iam::222222222222:role/jit-revoker", "ext-1")
	text := fmt.Sprintf(`oidc: {issuer: "http://127.0.0.1:1", client_id: jit-cli}
store: {dsn: "sqlite:///tmp/unused.db"}
aws:
  access_key_id: AKIA111111111111
  secret_access_key: secret-111111111111
  sts_endpoint: %[1]s
  iam_endpoint: %[1]s
  revoke_with_inline_policy: true
  revokers:
    "222222222222": {role_arn: "arn:aws:iam::222222222222:role/jit-revoker", external_id: ext-1}
roles:
  - name: prod
    arn: arn:aws:iam::222222222222:role/jit-prod
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
    max_duration: 1h
  - name: gone
    arn: arn:aws:iam::222222222222:role/jit-gone
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
    max_duration: 1h
`, f.URL)
	f.Keys("111111111111") // registers the config's key in the server's account
	cfg, err := jitconfig.Parse("jit.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	res, err := serverapp.CheckAWS(t.Context(), cfg, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || !res[0].OK() || !res[0].RevokeChecked || res[1].Assume == nil {
		t.Fatalf("results %+v", res)
	}
}
