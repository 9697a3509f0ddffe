package awssetup_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"

	"github.com/jit-access/jit/pkg/awssetup"
)

// The example of docs/aws-setup.md: the server's account 111111111111 with
// a target role of its own, and 123456789012 with a target and a revoker.
const (
	docServer     = "arn:aws:iam::111111111111:role/jit-server"
	docProdAdmin  = "arn:aws:iam::123456789012:role/jit-prod-admin"
	docDevAdmin   = "arn:aws:iam::111111111111:role/jit-dev-admin"
	docRevoker    = "arn:aws:iam::123456789012:role/jit-revoker"
	docExternalID = "jit-prod"
)

// docBlockRE finds a JSON code block marked <!-- awssetup:NAME --> in the
// docs.
var docBlockRE = regexp.MustCompile("(?s)<!-- awssetup:([a-z-]+) -->\\s*```json\\n(.*?)\\n```")

// docBlocks reads the marked policy documents out of docs/aws-setup.md, so
// that the tests check what operators copy, not a copy of it.
func docBlocks(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "aws-setup.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range docBlockRE.FindAllStringSubmatch(string(raw), -1) {
		if !json.Valid([]byte(m[2])) {
			t.Fatalf("docs/aws-setup.md: block %s is not valid JSON:\n%s", m[1], m[2])
		}
		out[m[1]] = m[2]
	}
	for _, name := range []string{"target-trust", "server-policy", "revoker-trust", "revoker-policy"} {
		if out[name] == "" {
			t.Fatalf("docs/aws-setup.md has no block marked <!-- awssetup:%s -->", name)
		}
	}
	return out
}

// docGenerated is what the generator builds for the docs' example.
func docGenerated() map[string]awssetup.Document {
	return map[string]awssetup.Document{
		"target-trust": awssetup.TargetTrustPolicy(docServer),
		"server-policy": awssetup.ServerPolicy(awssetup.ServerInputs{
			Targets: []string{docProdAdmin, docDevAdmin}, Revokers: []string{docRevoker}, OwnAccountTargets: []string{docDevAdmin}}),
		"revoker-trust":  awssetup.RevokerTrustPolicy(docServer, docExternalID),
		"revoker-policy": awssetup.RevokerPolicy([]string{docProdAdmin}),
	}
}

func TestAWSSetupDocsShowWhatTheGeneratorBuilds(t *testing.T) {
	blocks := docBlocks(t)
	for name, want := range docGenerated() {
		var got awssetup.Document
		if err := json.Unmarshal([]byte(blocks[name]), &got); err != nil {
			t.Fatalf("docs block %s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("docs/aws-setup.md block %s differs from the generator (pkg/awssetup); update the docs to:\n%s\n\ndocs have:\n%s",
				name, want.JSON(), blocks[name])
		}
	}
}
