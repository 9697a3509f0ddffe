package config

import (
	"regexp"
	"strings"
	"testing"
)

// threeMistakes has a duplicate role name, an unknown key and a bad
// duration, in that order.
const threeMistakes = `oidc: {issuer: "http://127.0.0.1:1", client_id: jit-cli}
store: {dsn: "sqlite:///tmp/unused.db"}
roles:
  - name: readonly
    arn: arn:aws:iam::123456789012:role/readonly
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
  - name: readonly
    arn: arn:aws:iam::123456789012:role/readonly2
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
    aprovers_required: 2
  - name: admin
    arn: arn:aws:iam::123456789012:role/admin
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
    max_duration: 2x
`

func TestParseReportsEveryErrorInOneRunInFileOrder(t *testing.T) {
	_, err := Parse("three.yaml", []byte(threeMistakes))
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{
		`three.yaml:8:11: roles[1].name: role "readonly" is defined twice`,
		`three.yaml:12:5: roles[1]: unknown key "aprovers_required"`,
		`three.yaml:17:19: roles[2].max_duration: "2x" is not a duration`,
	}
	if len(lines) != len(want) {
		t.Fatalf("%d errors, want %d:\n%s", len(lines), len(want), err)
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("line %d:\n %s\nwant prefix\n %s", i+1, lines[i], want[i])
		}
	}
}

// A value of the wrong kind is reported once: it is left out of the
// decoded config and the checks after decoding stay quiet about it (no
// "name is required" for a name that was a list).
func TestABadValueIsReportedOnceNotAgainAsMissing(t *testing.T) {
	src := strings.Replace(minimal, "  - name: dev", "  - name: [dev]", 1) + "sweep_interval: [1s]\naws: {role_chaining: maybe}\n"
	_, err := Parse("jit.yaml", []byte(src))
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	pos := regexp.MustCompile(`^jit\.yaml:\d+:\d+: `)
	for _, l := range lines {
		if !pos.MatchString(l) {
			t.Errorf("line without file:line:col: %q", l)
		}
	}
	if len(lines) != 3 || strings.Contains(err.Error(), "required") {
		t.Fatalf("want exactly the three bad values, got:\n%s", err)
	}
}

func TestPolicyFileReportsEveryError(t *testing.T) {
	pol := threeMistakes[strings.Index(threeMistakes, "roles:"):]
	path := writeSecrets(t, map[string]string{"policy.yaml": pol, "jit.yaml": "oidc: {issuer: \"http://127.0.0.1:1\", client_id: jit-cli}\nstore: {dsn: \"sqlite:///tmp/unused.db\"}\npolicy_file: policy.yaml\n"})
	_, err := Load(path + "/jit.yaml")
	if err == nil || strings.Count(err.Error(), "\n") != 2 || !strings.Contains(err.Error(), "policy.yaml:15:19: roles[2].max_duration") {
		t.Fatalf("want three positioned errors in policy.yaml, got:\n%v", err)
	}
}
