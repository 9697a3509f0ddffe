package devenv

import _ "embed"

//go:embed policy-tests.yaml
var demoPolicyTests string

// DemoPolicyTests are the policy tests of DemoPolicy (jit server
// test-policy): who gets what at once, who waits for whom, what is refused.
// jit dev writes them next to its jit.yaml as policy-tests.yaml.
func DemoPolicyTests() string { return demoPolicyTests }
