package ocsf_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/ocsf"
)

// schemaDir holds the vendored OCSF 1.8.0 files (testdata/ocsf-1.8.0/README.md).
var schemaDir = filepath.Join("testdata", "ocsf-"+ocsf.Version)

type attrDef struct {
	Requirement string                     `json:"requirement"`
	Type        string                     `json:"type"`
	IsArray     bool                       `json:"is_array"`
	Enum        map[string]json.RawMessage `json:"enum"`
}

type schemaFile struct {
	UID         int                `json:"uid"`
	Name        string             `json:"name"`
	Extends     string             `json:"extends"`
	Category    string             `json:"category"`
	Attributes  map[string]attrDef `json:"-"`
	Constraints struct {
		AtLeastOne []string `json:"at_least_one"`
	} `json:"constraints"`
}

type schema struct {
	t          *testing.T
	dictionary map[string]attrDef
	types      map[string]struct {
		Type string `json:"type"`
	}
	categories map[string]struct {
		UID int `json:"uid"`
	}
}

func loadSchema(t *testing.T) *schema {
	t.Helper()
	s := &schema{t: t}
	var dict struct {
		Attributes map[string]attrDef `json:"attributes"`
		Types      struct {
			Attributes map[string]struct {
				Type string `json:"type"`
			} `json:"attributes"`
		} `json:"types"`
	}
	s.read("dictionary.json", &dict)
	s.dictionary, s.types = dict.Attributes, dict.Types.Attributes
	var cats struct {
		Attributes map[string]struct {
			UID int `json:"uid"`
		} `json:"attributes"`
	}
	s.read("categories.json", &cats)
	s.categories = cats.Attributes
	var v struct{ Version string }
	s.read("version.json", &v)
	if v.Version != ocsf.Version {
		t.Fatalf("vendored schema is %s, events say %s", v.Version, ocsf.Version)
	}
	return s
}

func (s *schema) read(name string, v any) {
	s.t.Helper()
	raw, err := os.ReadFile(filepath.Join(schemaDir, name))
	if err != nil {
		s.t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		s.t.Fatalf("%s: %v", name, err)
	}
}

// file reads a class or object file; its attributes without "$include".
func (s *schema) file(name string) schemaFile {
	s.t.Helper()
	var f schemaFile
	s.read(name, &f)
	var raw struct {
		Attributes map[string]json.RawMessage `json:"attributes"`
	}
	s.read(name, &raw)
	f.Attributes = map[string]attrDef{}
	for k, v := range raw.Attributes {
		if k == "$include" {
			continue // profiles: optional attributes only
		}
		var a attrDef
		if err := json.Unmarshal(v, &a); err != nil {
			s.t.Fatalf("%s %s: %v", name, k, err)
		}
		f.Attributes[k] = a
	}
	return f
}

// resolved merges a file with what it extends (the child wins; enums add
// up) and fills each attribute's type from the dictionary.
func (s *schema) resolved(chain []string) (map[string]attrDef, []string) {
	attrs := map[string]attrDef{}
	var atLeastOne []string
	for i := len(chain) - 1; i >= 0; i-- {
		f := s.file(chain[i])
		if len(f.Constraints.AtLeastOne) > 0 {
			atLeastOne = f.Constraints.AtLeastOne
		}
		for k, a := range f.Attributes {
			prev := attrs[k]
			if a.Requirement == "" {
				a.Requirement = prev.Requirement
			}
			enum := map[string]json.RawMessage{}
			for _, src := range []map[string]json.RawMessage{s.dictionary[k].Enum, prev.Enum, a.Enum} {
				for v, d := range src {
					enum[v] = d
				}
			}
			a.Enum = enum
			d, ok := s.dictionary[k]
			if !ok {
				s.t.Fatalf("%s: attribute %s not in the dictionary", chain[i], k)
			}
			a.Type, a.IsArray = d.Type, d.IsArray
			attrs[k] = a
		}
	}
	return attrs, atLeastOne
}

func (s *schema) classChain(classUID int) []string {
	s.t.Helper()
	for _, name := range []string{"authentication", "entity_management", "user_access"} {
		path := "events/iam/" + name + ".json"
		if f := s.file(path); s.categories["iam"].UID*1000+f.UID == classUID {
			return []string{path, "events/iam/iam.json", "events/base_event.json"}
		}
	}
	s.t.Fatalf("class %d is not vendored", classUID)
	return nil
}

func (s *schema) objectChain(name string) []string {
	var chain []string
	for name != "" && name != "object" {
		path := "objects/" + name + ".json"
		chain = append(chain, path)
		name = s.file(path).Extends
	}
	return chain
}

// check returns every way v breaks the attributes: required ones missing,
// at_least_one unmet, unknown attributes, wrong types, enum values not in
// the enum.
func (s *schema) check(where string, v map[string]any, attrs map[string]attrDef, atLeastOne []string) []string {
	var errs []string
	for k, a := range attrs {
		if _, ok := v[k]; a.Requirement == "required" && !ok {
			errs = append(errs, fmt.Sprintf("%s: required attribute %s missing", where, k))
		}
	}
	if len(atLeastOne) > 0 {
		found := false
		for _, k := range atLeastOne {
			_, ok := v[k]
			found = found || ok
		}
		if !found {
			errs = append(errs, fmt.Sprintf("%s: needs at least one of %v", where, atLeastOne))
		}
	}
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		a, ok := attrs[k]
		if !ok {
			errs = append(errs, fmt.Sprintf("%s: attribute %s is not in the class or object", where, k))
			continue
		}
		vals := []any{v[k]}
		if a.IsArray {
			arr, ok := v[k].([]any)
			if !ok {
				errs = append(errs, fmt.Sprintf("%s.%s: want an array", where, k))
				continue
			}
			vals = arr
		}
		for _, x := range vals {
			errs = append(errs, s.checkValue(where+"."+k, x, a)...)
		}
	}
	return errs
}

func (s *schema) checkValue(where string, x any, a attrDef) []string {
	if strings.HasSuffix(a.Type, "_t") {
		base := a.Type
		if t := s.types[a.Type].Type; t != "" {
			base = t
		}
		ok := false
		switch base {
		case "integer_t", "long_t":
			n, isNum := x.(float64)
			ok = isNum && n == float64(int64(n))
		case "float_t":
			_, ok = x.(float64)
		case "boolean_t":
			_, ok = x.(bool)
		case "json_t":
			ok = true
		default:
			_, ok = x.(string)
		}
		if !ok {
			return []string{fmt.Sprintf("%s: %v (%T) is not a %s", where, x, x, a.Type)}
		}
		if len(a.Enum) > 0 {
			key := fmt.Sprint(x)
			if n, isNum := x.(float64); isNum {
				key = strconv.FormatInt(int64(n), 10)
			}
			if _, ok := a.Enum[key]; !ok {
				return []string{fmt.Sprintf("%s: %v is not in its enum", where, x)}
			}
		}
		return nil
	}
	m, ok := x.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("%s: want an object (%s)", where, a.Type)}
	}
	if a.Type == "object" {
		return nil // free-form (unmapped)
	}
	attrs, alo := s.resolved(s.objectChain(a.Type))
	return s.check(where, m, attrs, alo)
}

// checkEvent checks one exported event against its class.
func (s *schema) checkEvent(raw []byte) []string {
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		return []string{err.Error()}
	}
	class, _ := v["class_uid"].(float64)
	activity, _ := v["activity_id"].(float64)
	where := fmt.Sprintf("%v (class %v)", v["metadata"].(map[string]any)["event_code"], class)
	attrs, _ := s.resolved(s.classChain(int(class)))
	// The compiled schema fixes category_uid and class_uid per class; the
	// source files' enums list only 0. Checked below instead.
	for _, k := range []string{"category_uid", "class_uid"} {
		a := attrs[k]
		a.Enum = nil
		attrs[k] = a
	}
	errs := s.check(where, v, attrs, nil)
	if c, _ := v["category_uid"].(float64); int(c) != s.categories["iam"].UID {
		errs = append(errs, fmt.Sprintf("%s: category_uid %v, want IAM's %d", where, c, s.categories["iam"].UID))
	}
	if tu, _ := v["type_uid"].(float64); int64(tu) != int64(class)*100+int64(activity) {
		errs = append(errs, fmt.Sprintf("%s: type_uid %v, want class_uid*100+activity_id", where, tu))
	}
	return errs
}

// auditTypes reads every Type* constant of pkg/audit, so a new event type
// without a mapping fails here.
func auditTypes(t *testing.T) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join("..", "audit", "audit.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if strings.HasPrefix(name.Name, "Type") && i < len(vs.Values) {
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
					out[name.Name], _ = strconv.Unquote(lit.Value)
				}
			}
		}
		return true
	})
	if len(out) < 20 {
		t.Fatalf("found only %d audit types in pkg/audit/audit.go", len(out))
	}
	return out
}

func sample(typ string) api.AuditEvent {
	return api.AuditEvent{Seq: 42, Time: time.Date(2026, 12, 7, 12, 0, 0, 123e6, time.UTC), Type: typ,
		Actor: "bob@example.com", Subject: "alice@example.com", Role: "prod-admin", RequestID: "req_01jalice",
		Reason: "INC-1234", Detail: map[string]string{"role_arn": "arn:aws:iam::123456789012:role/jit-prod-admin"},
		PrevHash: "ab", Hash: "cd"}
}

func TestEveryAuditEventTypeMapsToAnOCSFEventTheSchemaAccepts(t *testing.T) {
	s := loadSchema(t)
	for constant, typ := range auditTypes(t) {
		if !ocsf.Mapped(typ) {
			t.Errorf("audit.%s (%s) has no OCSF mapping", constant, typ)
		}
		for _, e := range []api.AuditEvent{sample(typ), {Seq: 1, Time: time.Unix(1, 0), Type: typ, Actor: "server"}} {
			raw, err := json.Marshal(ocsf.FromAudit(e, "v1.2.3"))
			if err != nil {
				t.Fatal(err)
			}
			for _, msg := range s.checkEvent(raw) {
				t.Error(msg)
			}
		}
	}
	// An unknown (future) type still gives a valid event.
	raw, _ := json.Marshal(ocsf.FromAudit(sample("something.new"), "dev"))
	for _, msg := range s.checkEvent(raw) {
		t.Error(msg)
	}
}

func TestOCSFEventsCarryTheRequestPrincipalRoleAndOutcomeInTheSchemasFields(t *testing.T) {
	grant := ocsf.FromAudit(sample("request.break_glass"), "v1")
	if grant.ClassUID != ocsf.ClassUserAccess || grant.ActivityID != 1 || grant.Metadata.CorrelationUID != "req_01jalice" ||
		grant.User.Name != "alice@example.com" || grant.Actor.User.Name != "bob@example.com" ||
		grant.Privileges[0] != "prod-admin" || grant.Resources[0].UID != "arn:aws:iam::123456789012:role/jit-prod-admin" ||
		grant.StatusID != ocsf.StatusSuccess || grant.SeverityID != ocsf.SeverityHigh || !strings.Contains(grant.Message, "INC-1234") ||
		grant.Time != 1796644800123 {
		t.Errorf("break-glass grant: %+v", grant)
	}
	failed := ocsf.FromAudit(sample("grant.revocation_failed"), "v1")
	if failed.ActivityID != 2 || failed.StatusID != ocsf.StatusFailure || failed.StatusDetail != "INC-1234" {
		t.Errorf("failed revocation: %+v", failed)
	}
	vend := ocsf.FromAudit(sample("credentials.vended"), "v1")
	if vend.ClassUID != ocsf.ClassAuthentication || vend.Service.Name != "prod-admin" || vend.User.Name != "alice@example.com" {
		t.Errorf("vend: %+v", vend)
	}
	auth := ocsf.FromAudit(api.AuditEvent{Seq: 3, Time: time.Unix(5, 0), Type: "auth.failed", Actor: "server", Reason: "token expired"}, "v1")
	if auth.ClassUID != ocsf.ClassAuthentication || auth.StatusID != ocsf.StatusFailure || auth.User.Name != "unknown" || auth.Actor.AppName != "jit server" {
		t.Errorf("auth failure: %+v", auth)
	}
	// The jit record rides along whole, so its hash chain can still be
	// verified from the SIEM's copy.
	if got := grant.Unmapped["jit"].(api.AuditEvent); got.Hash != "cd" || got.PrevHash != "ab" {
		t.Errorf("unmapped.jit %+v", got)
	}
}

func TestTheSchemaCheckCatchesABrokenEvent(t *testing.T) {
	s := loadSchema(t)
	good, _ := json.Marshal(ocsf.FromAudit(sample("request.approved"), "v1"))
	for name, mutate := range map[string]func(map[string]any){
		"no privileges":       func(m map[string]any) { delete(m, "privileges") },
		"bad status_id":       func(m map[string]any) { m["status_id"] = 7 },
		"time as a string":    func(m map[string]any) { m["time"] = "2026-12-07T12:00:00Z" },
		"an unknown field":    func(m map[string]any) { m["grant_id"] = "x" },
		"user without a name": func(m map[string]any) { m["user"] = map[string]any{"type_id": 1} },
		"bad activity":        func(m map[string]any) { m["activity_id"] = 5; m["type_uid"] = 300505 },
	} {
		var m map[string]any
		_ = json.Unmarshal(good, &m)
		mutate(m)
		raw, _ := json.Marshal(m)
		if errs := s.checkEvent(raw); len(errs) == 0 {
			t.Errorf("%s: the schema check found nothing wrong", name)
		}
	}
}
