package server

import (
	"fmt"
	"os"

	"github.com/goccy/go-yaml"

	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/config"
	"github.com/jit-access/jit/pkg/policy"
)

// loadPolicy reads the policy the policy tools work on: a server config
// (its roles: inline or in policy_file), or a policy file of its own (only
// admins: and roles:), so a proposed policy is checked before it is wired
// into a config.
func loadPolicy(path string) (*policy.Policy, error) {
	p, _, err := loadPolicyAndConfig(path)
	return p, err
}

// loadPolicyAndConfig is loadPolicy that also returns the server config
// when path is one (nil for a policy file).
func loadPolicyAndConfig(path string) (*policy.Policy, *config.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	var top map[string]any
	if err := yaml.Unmarshal(data, &top); err == nil && len(top) > 0 && onlyPolicyKeys(top) {
		p, err := policy.Parse(path, data)
		if err != nil {
			return nil, nil, cmdutil.WithHint(err, cmdutil.ExitError, "fix the lines named above; docs/policy.md lists every key")
		}
		return p, nil, nil
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, nil, cmdutil.WithHint(err, cmdutil.ExitError, "fix the lines named above; docs/policy.md lists every key")
	}
	return cfg.Policy, cfg, nil
}

func onlyPolicyKeys(top map[string]any) bool {
	for k := range top {
		if k != "admins" && k != "roles" {
			return false
		}
	}
	return true
}
