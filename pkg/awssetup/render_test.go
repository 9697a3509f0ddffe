package awssetup_test

// Neither Terraform nor CloudFormation runs here. These tests check the
// output's shape: Terraform's JSON syntax (top-level keys, resource names,
// provider aliases, "${…}" references that resolve) against the aws
// provider's resource schemas, and each CloudFormation template against
// its resource types' schemas (required properties, types, enums, ranges,
// no unknown property) — the vendored subsets in testdata/. And that every
// IAM document inside is exactly what the builders (checked by the IAM
// evaluator) return.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/awssetup"
	"github.com/jit-access/jit/pkg/config"
)

const setupConfig = `oidc: {issuer: "http://127.0.0.1:1", client_id: jit-cli}
store: {dsn: "sqlite:///tmp/unused.db"}
aws:
  region: eu-west-1
  revoke_with_inline_policy: true
  revokers:
    "123456789012": {role_arn: "arn:aws:iam::123456789012:role/jit-revoker", external_id: jit-prod}
audit:
  anchor: {bucket: jit-audit-anchor, prefix: "checkpoints/", region: eu-central-1, retention_days: 400}
roles:
  - name: prod-admin
    arn: arn:aws:iam::123456789012:role/jit-prod-admin
    max_session_duration: 4h
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
    max_duration: 4h
  - name: dev-admin
    arn: arn:aws:iam::111111111111:role/jit-dev-admin
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
    max_duration: 1h
  - name: billing.read
    arn: arn:aws:iam::222222222222:role/finance/jit-billing-read
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
    max_duration: 1h
`

func setupPlan(t *testing.T, text string) *awssetup.Plan {
	t.Helper()
	cfg, err := config.Parse("jit.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	p, err := awssetup.NewPlan(cfg, awssetup.Options{ServerAccount: "111111111111"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewPlanReadsTargetsRevokersAndTheAnchorFromTheConfig(t *testing.T) {
	p := setupPlan(t, setupConfig)
	if p.ServerRoleARN != "arn:aws:iam::111111111111:role/jit-server" {
		t.Errorf("server role %s", p.ServerRoleARN)
	}
	if got := p.Accounts(); !slices.Equal(got, []string{"111111111111", "123456789012", "222222222222"}) {
		t.Errorf("accounts %v", got)
	}
	if len(p.Revokers) != 2 {
		t.Fatalf("revokers %+v, want one per other account", p.Revokers)
	}
	if r := p.Revokers[0]; r.ARN != "arn:aws:iam::123456789012:role/jit-revoker" || r.ExternalID != "jit-prod" || !r.FromConfig {
		t.Errorf("configured revoker %+v", r)
	}
	if r := p.Revokers[1]; r.Account != "222222222222" || r.FromConfig || !slices.Equal(r.Targets, []string{"arn:aws:iam::222222222222:role/finance/jit-billing-read"}) {
		t.Errorf("generated revoker %+v", r)
	}
	if !strings.Contains(strings.Join(p.ToDo(), "\n"), `aws.revokers."222222222222".role_arn: arn:aws:iam::222222222222:role/jit-revoker`) {
		t.Errorf("the to-do list does not ask to configure the generated revoker: %q", p.ToDo())
	}
	billing := p.Targets[2]
	if billing.Path != "/finance/" || billing.RoleName != "jit-billing-read" || billing.MaxSessionDuration != time.Hour {
		t.Errorf("target with a path: %+v", billing)
	}
	if in := p.ServerInputs(); !slices.Equal(in.OwnAccountTargets, []string{"arn:aws:iam::111111111111:role/jit-dev-admin"}) || in.AnchorBucket != "jit-audit-anchor" {
		t.Errorf("server inputs %+v", in)
	}
}

func TestNewPlanRefusesBadInputsWithWhatToDo(t *testing.T) {
	cfg, err := config.Parse("jit.yaml", []byte(setupConfig))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		o    awssetup.Options
		want string
	}{
		{"no account", awssetup.Options{}, "want the 12-digit id"},
		{"bad role name", awssetup.Options{ServerAccount: "111111111111", ServerRoleName: "jit server"}, "IAM role names are"},
		{"bad trust", awssetup.Options{ServerAccount: "111111111111", ServerTrust: "root"}, "service principal"},
		{"the server is a target", awssetup.Options{ServerAccount: "111111111111", ServerRoleName: "jit-dev-admin"}, "a target must be another role"},
	} {
		_, err := awssetup.NewPlan(cfg, c.o)
		if !errors.Is(err, awssetup.ErrInput) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an input error containing %q", c.name, err, c.want)
		}
	}
}

// ---- Terraform ----

type tfSchema struct {
	Block tfBlock `json:"block"`
}

type tfBlock struct {
	Attributes map[string]struct {
		Type     string   `json:"type"`
		Required bool     `json:"required"`
		Optional bool     `json:"optional"`
		Enum     []string `json:"enum"`
	} `json:"attributes"`
	BlockTypes map[string]struct {
		NestingMode string  `json:"nesting_mode"`
		MinItems    int     `json:"min_items"`
		MaxItems    int     `json:"max_items"`
		Block       tfBlock `json:"block"`
	} `json:"block_types"`
}

func loadJSON(t *testing.T, name string, v any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// checkTFBlock checks one block's body against its schema.
func checkTFBlock(where string, body map[string]any, schema tfBlock) []string {
	var errs []string
	for name, a := range schema.Attributes {
		if _, ok := body[name]; a.Required && !ok {
			errs = append(errs, fmt.Sprintf("%s: required attribute %s missing", where, name))
		}
	}
	for key, v := range body {
		if key == "provider" || key == "depends_on" {
			continue
		}
		if a, ok := schema.Attributes[key]; ok {
			ok := false
			switch a.Type {
			case "string":
				s, isStr := v.(string)
				ok = isStr && (len(a.Enum) == 0 || slices.Contains(a.Enum, s))
			case "number":
				_, ok = v.(float64)
			case "bool":
				_, ok = v.(bool)
			}
			if !ok {
				errs = append(errs, fmt.Sprintf("%s.%s: %v is not a valid %s (enum %v)", where, key, v, a.Type, a.Enum))
			}
			continue
		}
		bt, ok := schema.BlockTypes[key]
		if !ok {
			errs = append(errs, fmt.Sprintf("%s: unknown attribute or block %s", where, key))
			continue
		}
		// JSON syntax: a nested block is an object, or a list of objects.
		var items []map[string]any
		switch x := v.(type) {
		case map[string]any:
			items = []map[string]any{x}
		case []any:
			for _, e := range x {
				m, _ := e.(map[string]any)
				items = append(items, m)
			}
		}
		if len(items) < bt.MinItems || (bt.MaxItems > 0 && len(items) > bt.MaxItems) {
			errs = append(errs, fmt.Sprintf("%s.%s: %d blocks, want %d…%d", where, key, len(items), bt.MinItems, bt.MaxItems))
		}
		for i, it := range items {
			errs = append(errs, checkTFBlock(fmt.Sprintf("%s.%s[%d]", where, key, i), it, bt.Block)...)
		}
	}
	return errs
}

var (
	tfIdentRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
	tfRefRE   = regexp.MustCompile(`\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.[a-z_]+\}`)
)

func TestAWSSetupTerraformJSONHasTheShapeTerraformAccepts(t *testing.T) {
	p := setupPlan(t, setupConfig)
	files, err := awssetup.Render(p, "terraform")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || !strings.HasSuffix(files[0].Name, ".tf.json") {
		t.Fatalf("files %v, want one *.tf.json (Terraform reads JSON syntax only from that suffix)", files)
	}
	var schemas map[string]json.RawMessage
	loadJSON(t, "terraform-schemas.json", &schemas)
	var doc map[string]any
	if err := json.Unmarshal(files[0].Data, &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	for k := range doc {
		if !slices.Contains([]string{"//", "terraform", "provider", "resource", "output", "variable", "locals"}, k) {
			t.Errorf("top-level key %q is not a Terraform block type", k)
		}
	}
	aliases := map[string]bool{}
	for _, pr := range doc["provider"].(map[string]any)["aws"].([]any) {
		m := pr.(map[string]any)
		aliases["aws."+m["alias"].(string)] = true
		if ids, _ := m["allowed_account_ids"].([]any); len(ids) != 1 {
			t.Errorf("provider %v does not pin its account", m)
		}
	}
	declared := map[string]bool{}
	resources := doc["resource"].(map[string]any)
	for typ, byName := range resources {
		raw, ok := schemas[typ]
		if !ok {
			t.Errorf("resource type %s has no vendored schema", typ)
			continue
		}
		var s tfSchema
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		for name, body := range byName.(map[string]any) {
			declared[typ+"."+name] = true
			if !tfIdentRE.MatchString(name) {
				t.Errorf("%s.%s: not a Terraform identifier", typ, name)
			}
			b := body.(map[string]any)
			if prov, _ := b["provider"].(string); !aliases[prov] {
				t.Errorf("%s.%s: provider %q is not a declared alias %v", typ, name, prov, aliases)
			}
			for _, e := range checkTFBlock(typ+"."+name, b, s.Block) {
				t.Error(e)
			}
		}
	}
	for _, m := range tfRefRE.FindAllStringSubmatch(string(files[0].Data), -1) {
		if !declared[m[1]+"."+m[2]] {
			t.Errorf("reference %s to an undeclared resource", m[0])
		}
	}
	for _, dep := range regexp.MustCompile(`"(aws_[a-z0-9_]+\.[a-z0-9_]+)"`).FindAllStringSubmatch(string(files[0].Data), -1) {
		if !declared[dep[1]] {
			t.Errorf("depends_on %s: undeclared", dep[1])
		}
	}

	// The documents inside are the builders' (and "${" would have been
	// escaped: Terraform's JSON strings are templates).
	roles := resources["aws_iam_role"].(map[string]any)
	policies := resources["aws_iam_role_policy"].(map[string]any)
	want := map[string]awssetup.Document{
		"aws_iam_role.target_prod_admin":           awssetup.TargetTrustPolicy(p.ServerRoleARN),
		"aws_iam_role.target_billing_read":         awssetup.TargetTrustPolicy(p.ServerRoleARN),
		"aws_iam_role.revoker_123456789012":        awssetup.RevokerTrustPolicy(p.ServerRoleARN, "jit-prod"),
		"aws_iam_role_policy.jit_server":           awssetup.ServerPolicy(p.ServerInputs()),
		"aws_iam_role_policy.revoker_222222222222": awssetup.RevokerPolicy([]string{"arn:aws:iam::222222222222:role/finance/jit-billing-read"}),
	}
	for key, wantDoc := range want {
		typ, name, _ := strings.Cut(key, ".")
		src, attr := roles, "assume_role_policy"
		if typ == "aws_iam_role_policy" {
			src, attr = policies, "policy"
		}
		body, ok := src[name].(map[string]any)
		if !ok {
			t.Errorf("%s missing", key)
			continue
		}
		var got awssetup.Document
		if err := json.Unmarshal([]byte(body[attr].(string)), &got); err != nil || !reflect.DeepEqual(got, wantDoc) {
			t.Errorf("%s.%s = %v (%v), want the builder's %s", key, attr, body[attr], err, wantDoc.JSON())
		}
	}
	if got := roles["target_prod_admin"].(map[string]any)["max_session_duration"]; got != float64(4*3600) {
		t.Errorf("prod-admin max_session_duration %v, want 14400", got)
	}
	lock := resources["aws_s3_bucket_object_lock_configuration"].(map[string]any)["audit_anchor"].(map[string]any)
	if r := lock["rule"].(map[string]any)["default_retention"].(map[string]any); r["mode"] != "COMPLIANCE" || r["days"] != float64(400) {
		t.Errorf("object lock rule %v, want COMPLIANCE 400 days", r)
	}
}

func TestAWSSetupTerraformEscapesTemplateSequencesInPolicies(t *testing.T) {
	p := setupPlan(t, setupConfig)
	p.Targets[0].Policy = "x"
	p.ServerTrust = "arn:aws:iam::111111111111:role/${aws:username}"
	files, err := awssetup.Render(p, "terraform")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ReplaceAll(string(files[0].Data), "$${", ""), "${aws:username}") {
		t.Errorf("a literal ${ in a policy reached Terraform unescaped: it would be read as an interpolation")
	}
}

// ---- CloudFormation ----

// cfnCheck checks v against a JSON-schema subset: type, required,
// properties, additionalProperties false, items, enum, minimum, maximum,
// maxLength, pattern.
func cfnCheck(where string, v any, schema map[string]any) []string {
	var errs []string
	if types, ok := schema["type"]; ok {
		var want []string
		switch x := types.(type) {
		case string:
			want = []string{x}
		case []any:
			for _, e := range x {
				want = append(want, e.(string))
			}
		}
		if !slices.Contains(want, jsonType(v)) {
			return append(errs, fmt.Sprintf("%s: %s, want %v", where, jsonType(v), want))
		}
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.Contains(enum, v) {
		errs = append(errs, fmt.Sprintf("%s: %v not in %v", where, v, enum))
	}
	if n, ok := v.(float64); ok {
		if lo, ok := schema["minimum"].(float64); ok && n < lo {
			errs = append(errs, fmt.Sprintf("%s: %v < minimum %v", where, n, lo))
		}
		if hi, ok := schema["maximum"].(float64); ok && n > hi {
			errs = append(errs, fmt.Sprintf("%s: %v > maximum %v", where, n, hi))
		}
	}
	if s, ok := v.(string); ok {
		if ml, ok := schema["maxLength"].(float64); ok && float64(len(s)) > ml {
			errs = append(errs, fmt.Sprintf("%s: longer than %v", where, ml))
		}
		if pat, ok := schema["pattern"].(string); ok && !regexp.MustCompile(pat).MatchString(s) {
			errs = append(errs, fmt.Sprintf("%s: %q does not match %s", where, s, pat))
		}
	}
	if m, ok := v.(map[string]any); ok {
		props, _ := schema["properties"].(map[string]any)
		req, _ := schema["required"].([]any)
		for _, r := range req {
			if _, ok := m[r.(string)]; !ok {
				errs = append(errs, fmt.Sprintf("%s: required property %s missing", where, r))
			}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ps, ok := props[k].(map[string]any)
			if !ok {
				if schema["additionalProperties"] == false && props != nil {
					errs = append(errs, fmt.Sprintf("%s: unknown property %s", where, k))
				}
				continue
			}
			errs = append(errs, cfnCheck(where+"."+k, m[k], ps)...)
		}
	}
	if a, ok := v.([]any); ok {
		if items, ok := schema["items"].(map[string]any); ok {
			for i, e := range a {
				errs = append(errs, cfnCheck(fmt.Sprintf("%s[%d]", where, i), e, items)...)
			}
		}
	}
	return errs
}

func jsonType(v any) string {
	switch x := v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case float64:
		if x == float64(int64(x)) {
			return "integer"
		}
		return "number"
	}
	return "null"
}

func TestAWSSetupCloudFormationTemplatesMatchTheResourceTypesSchemas(t *testing.T) {
	p := setupPlan(t, setupConfig)
	files, err := awssetup.Render(p, "cloudformation")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("%d templates, want one per account (3)", len(files))
	}
	var schemas map[string]any
	loadJSON(t, "cloudformation-schemas.json", &schemas)
	byAccount := map[string]map[string]any{}
	for _, f := range files {
		var tpl map[string]any
		if err := json.Unmarshal(f.Data, &tpl); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if tpl["AWSTemplateFormatVersion"] != "2010-09-09" {
			t.Errorf("%s: AWSTemplateFormatVersion %v", f.Name, tpl["AWSTemplateFormatVersion"])
		}
		res := tpl["Resources"].(map[string]any)
		for id, r := range res {
			if !regexp.MustCompile(`^[A-Za-z0-9]{1,255}$`).MatchString(id) {
				t.Errorf("%s: logical id %q is not alphanumeric", f.Name, id)
			}
			rm := r.(map[string]any)
			typ, _ := rm["Type"].(string)
			schema, ok := schemas[typ].(map[string]any)
			if !ok {
				t.Errorf("%s: %s has type %q with no vendored schema", f.Name, id, typ)
				continue
			}
			props, _ := rm["Properties"].(map[string]any)
			for _, e := range cfnCheck(f.Name+":"+id, props, schema) {
				t.Error(e)
			}
		}
		byAccount[strings.TrimSuffix(strings.TrimPrefix(f.Name, "jit-aws-"), ".cfn.json")] = res
	}
	// Each account holds what belongs there, with the builders' documents.
	prop := func(account, id, key string) any {
		r, ok := byAccount[account][id].(map[string]any)
		if !ok {
			t.Fatalf("account %s has no %s: %v", account, id, byAccount[account])
		}
		return r["Properties"].(map[string]any)[key]
	}
	doc := func(v any) awssetup.Document {
		b, _ := json.Marshal(v)
		var d awssetup.Document
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	if got := doc(prop("123456789012", "TargetProdAdminRole", "AssumeRolePolicyDocument")); !reflect.DeepEqual(got, awssetup.TargetTrustPolicy(p.ServerRoleARN)) {
		t.Errorf("prod-admin trust %v", got)
	}
	if got := doc(prop("111111111111", "JitServerRole", "Policies").([]any)[0].(map[string]any)["PolicyDocument"]); !reflect.DeepEqual(got, awssetup.ServerPolicy(p.ServerInputs())) {
		t.Errorf("server policy %v", got)
	}
	if got := doc(prop("222222222222", "JitRevokerRole", "AssumeRolePolicyDocument")); !reflect.DeepEqual(got, awssetup.RevokerTrustPolicy(p.ServerRoleARN, "")) {
		t.Errorf("generated revoker trust %v", got)
	}
	if got := prop("111111111111", "AuditAnchorBucket", "ObjectLockEnabled"); got != true {
		t.Errorf("anchor bucket ObjectLockEnabled %v", got)
	}
	if _, ok := byAccount["123456789012"]["AuditAnchorBucket"]; ok {
		t.Errorf("the anchor bucket belongs in the server's account only")
	}
}

func TestAWSSetupWithoutRevocationWritesNoRevokersAndSaysSo(t *testing.T) {
	p := setupPlan(t, strings.Replace(setupConfig, "revoke_with_inline_policy: true", "revoke_with_inline_policy: false", 1))
	if len(p.Revokers) != 0 || len(p.ServerInputs().OwnAccountTargets) != 0 {
		t.Errorf("revokers %v, own-account revocation %v without revoke_with_inline_policy", p.Revokers, p.ServerInputs().OwnAccountTargets)
	}
	if !strings.Contains(strings.Join(p.ToDo(), "\n"), "early revocation at AWS is off") {
		t.Errorf("the to-do list does not say revocation is off: %q", p.ToDo())
	}
}
