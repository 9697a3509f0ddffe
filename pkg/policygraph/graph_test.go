package policygraph_test

import (
	"bytes"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/jit-access/jit/pkg/devenv"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/policygraph"
)

var update = flag.Bool("update", false, "rewrite docs/policy-demo.svg")

const demoSVG = "../../docs/policy-demo.svg"

func demoFlows(t *testing.T, role string) []policygraph.Flow {
	t.Helper()
	p, err := policy.Parse("demo", []byte(devenv.DemoPolicy))
	if err != nil {
		t.Fatal(err)
	}
	flows, ok := policygraph.Flows(p, role)
	if !ok {
		t.Fatalf("no role %q", role)
	}
	return flows
}

// docs/policy.md shows the demo policy's picture; it is regenerated from
// devenv.DemoPolicy and this test fails when it is stale.
func TestDemoPolicyPictureInTheDocsIsCurrent(t *testing.T) {
	var b bytes.Buffer
	if err := policygraph.SVG(&b, demoFlows(t, "")); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(demoSVG, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(demoSVG)
	if err != nil {
		t.Fatalf("%v (go test ./pkg/policygraph -update)", err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Fatalf("%s is stale: go test ./pkg/policygraph -update", demoSVG)
	}
}

func TestSVGIsWellFormedAndShowsEveryPathWithItsLimits(t *testing.T) {
	var b bytes.Buffer
	if err := policygraph.SVG(&b, demoFlows(t, "")); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b.Bytes()))
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		if cd, ok := tok.(xml.CharData); ok {
			text.Write(cd)
			text.WriteString("|")
		}
	}
	for _, want := range []string{
		"role readonly|", "approved at once|", "groups developers|", "up to 8h|",
		"role admin|", "1 of approvers|", "groups approvers|", "never the requester|", "needs a reason|",
		"role breakglass|", "break-glass|", "up to 1h, reason required|", "break-glass grants reviewed after|",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the picture lacks %q", want)
		}
	}
}

func TestOneRoleInMermaidAndDOT(t *testing.T) {
	flows := demoFlows(t, "admin")
	var m, d bytes.Buffer
	if err := policygraph.Mermaid(&m, flows); err != nil {
		t.Fatal(err)
	}
	if err := policygraph.DOT(&d, flows); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"flowchart TB", `subgraph admin_role["role admin"]`, "admin_who --> admin_path0 --> admin_end", "1 of approvers<br/>groups approvers"} {
		if !strings.Contains(m.String(), want) {
			t.Errorf("mermaid lacks %q:\n%s", want, m.String())
		}
	}
	if strings.Contains(m.String(), "readonly") {
		t.Errorf("mermaid of one role shows others:\n%s", m.String())
	}
	for _, want := range []string{"digraph jit_policy {", "subgraph cluster_admin_role {", "admin_who -> admin_path0;", `label="1 of approvers\ngroups approvers`} {
		if !strings.Contains(d.String(), want) {
			t.Errorf("dot lacks %q:\n%s", want, d.String())
		}
	}
}

func TestManagerApproverIsDrawnOnTheApproversPath(t *testing.T) {
	p, err := policy.Parse("p.yaml", []byte(`roles:
  - name: billing
    arn: arn:aws:iam::123456789012:role/billing
    eligible: {groups: [dev]}
    approvers: {groups: [leads], manager_of_requester: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	flows, _ := policygraph.Flows(p, "billing")
	var m bytes.Buffer
	if err := policygraph.Mermaid(&m, flows); err != nil {
		t.Fatal(err)
	}
	if want := "1 of approvers<br/>groups leads; the requester&#39;s manager<br/>manager named by the server&#39;s managers: source"; !strings.Contains(m.String(), want) {
		t.Fatalf("mermaid lacks %q:\n%s", want, m.String())
	}
}
