package devenv

import (
	"bytes"
	"testing"

	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/policytest"
)

// The shipped demo tests pass against the demo policy, so `jit dev`'s
// policy-tests.yaml is a working example and the demo policy cannot drift
// from what the tour and the docs say about it.
func TestDemoPolicyPassesItsShippedPolicyTests(t *testing.T) {
	p, err := policy.Parse("demo", []byte(DemoPolicy))
	if err != nil {
		t.Fatal(err)
	}
	suite, err := policytest.Parse("policy-tests.yaml", []byte(DemoPolicyTests()))
	if err != nil {
		t.Fatal(err)
	}
	results := policytest.Run(p, suite)
	var out bytes.Buffer
	if err := policytest.WriteLines(&out, results); err != nil {
		t.Fatal(err)
	}
	if policytest.Failed(results) > 0 || len(results) < 10 {
		t.Fatalf("demo policy tests:\n%s", out.String())
	}
	t.Log("\n" + out.String())
}
