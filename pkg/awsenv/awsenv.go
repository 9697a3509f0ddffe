// Package awsenv renders credentials as the environment variables the AWS
// CLI and SDKs read, and as export statements for shells.
package awsenv

import (
	"fmt"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

// RoleVar marks a process that already runs under a jit grant, so that
// `jit exec` refuses to nest.
const RoleVar = "JIT_ROLE"

// Vars are the variables for c, in a stable order.
func Vars(c api.Credentials, region string) [][2]string {
	v := [][2]string{
		{"AWS_ACCESS_KEY_ID", c.AccessKeyID},
		{"AWS_SECRET_ACCESS_KEY", c.SecretAccessKey},
		{"AWS_SESSION_TOKEN", c.SessionToken},
		{"AWS_CREDENTIAL_EXPIRATION", c.Expiration.UTC().Format(time.RFC3339)},
		{RoleVar, c.Role},
	}
	if region != "" {
		v = append(v, [2]string{"AWS_REGION", region}, [2]string{"AWS_DEFAULT_REGION", region})
	}
	return v
}

// Cleared are variables removed from a child's environment so they cannot
// override the grant's credentials.
var Cleared = []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SECURITY_TOKEN"}

// Environ returns base with the grant's variables set and the clashing ones
// removed.
func Environ(base []string, c api.Credentials, region string) []string {
	drop := map[string]bool{}
	for _, k := range Cleared {
		drop[k] = true
	}
	vars := Vars(c, region)
	for _, kv := range vars {
		drop[kv[0]] = true
	}
	out := make([]string, 0, len(base)+len(vars))
	for _, e := range base {
		k, _, _ := strings.Cut(e, "=")
		if !drop[k] {
			out = append(out, e)
		}
	}
	for _, kv := range vars {
		out = append(out, kv[0]+"="+kv[1])
	}
	return out
}

// Shells are the shells Exports can write for.
var Shells = []string{"bash", "zsh", "fish", "powershell"}

// DetectShell guesses the user's shell from $SHELL (bash when unsure).
func DetectShell(env func(string) string) string {
	sh := env("SHELL")
	switch {
	case strings.HasSuffix(sh, "fish"):
		return "fish"
	case strings.HasSuffix(sh, "zsh"):
		return "zsh"
	case env("PSModulePath") != "" && sh == "":
		return "powershell"
	}
	return "bash"
}

// Exports renders the variables as statements for shell, to be eval'd.
func Exports(shell string, c api.Credentials, region string) (string, error) {
	var b strings.Builder
	for _, k := range Cleared {
		switch shell {
		case "bash", "zsh":
			fmt.Fprintf(&b, "unset %s\n", k)
		case "fish":
			fmt.Fprintf(&b, "set -e %s\n", k)
		case "powershell":
			fmt.Fprintf(&b, "Remove-Item Env:%s -ErrorAction SilentlyContinue\n", k)
		}
	}
	for _, kv := range Vars(c, region) {
		switch shell {
		case "bash", "zsh":
			fmt.Fprintf(&b, "export %s=%s\n", kv[0], posixQuote(kv[1]))
		case "fish":
			fmt.Fprintf(&b, "set -gx %s %s\n", kv[0], posixQuote(kv[1]))
		case "powershell":
			fmt.Fprintf(&b, "$Env:%s = '%s'\n", kv[0], strings.ReplaceAll(kv[1], "'", "''"))
		default:
			return "", fmt.Errorf("unknown shell %q (want one of %s)", shell, strings.Join(Shells, ", "))
		}
	}
	return b.String(), nil
}

func posixQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// EndpointCleared are removed from a child served by a credentials endpoint:
// static keys would win over the endpoint in every SDK's chain, and another
// container-credentials setting would fight it.
var EndpointCleared = []string{
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CREDENTIAL_EXPIRATION",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
}

// EndpointEnviron returns base for a child that fetches role's credentials
// from a local endpoint: endpoint's variables (the URI and token), the role
// marker and the region set; static keys and clashing settings removed.
func EndpointEnviron(base []string, endpoint [][2]string, role, region string) []string {
	drop := map[string]bool{RoleVar: true}
	for _, k := range append(append([]string{}, Cleared...), EndpointCleared...) {
		drop[k] = true
	}
	vars := append(append([][2]string{}, endpoint...), [2]string{RoleVar, role})
	if region != "" {
		vars = append(vars, [2]string{"AWS_REGION", region}, [2]string{"AWS_DEFAULT_REGION", region})
	}
	for _, kv := range vars {
		drop[kv[0]] = true
	}
	out := make([]string, 0, len(base)+len(vars))
	for _, e := range base {
		k, _, _ := strings.Cut(e, "=")
		if !drop[k] {
			out = append(out, e)
		}
	}
	for _, kv := range vars {
		out = append(out, kv[0]+"="+kv[1])
	}
	return out
}
