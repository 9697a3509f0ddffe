// Package yamldoc decodes YAML configuration strictly and turns every problem
// into an error that names file:line:column, the key path and what was
// expected, so that an operator can fix a config file without guessing.
//
// It is a leaf: it imports no jit package, so pkg/config (the server's config
// file) and pkg/policy (the roles, inline in the config or in their own file)
// both import it and the graph reads downward: config → policy → yamldoc.
package yamldoc

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Error is one problem in a YAML file, positioned where it is.
type Error struct {
	File   string
	Line   int    // 1-based; 0 when unknown
	Column int    // 1-based; 0 when unknown
	Path   string // key path such as roles[1].max_duration; empty for the whole file
	Msg    string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Doc is one parsed YAML document.
type Doc struct {
	Name string
	body ast.Node // nil for an empty document
	// broken are the key paths whose values Decode reported and left
	// out (decoded as if unset), so later checks can stay quiet there.
	broken map[string]bool
}

// Parse parses data as a single YAML document; name is used in errors.
func Parse(name string, data []byte) (*Doc, error) {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, fromYAML(name, err)
	}
	d := &Doc{Name: name}
	var docs []ast.Node
	for _, doc := range f.Docs {
		if doc != nil && doc.Body != nil {
			docs = append(docs, doc.Body)
		}
	}
	switch len(docs) {
	case 0:
	case 1:
		d.body = docs[0]
	default:
		return nil, d.errorAt(docs[1], "", "holds more than one YAML document (---); put everything in one")
	}
	return d, nil
}

// Has reports whether the document sets the key at path (such as "roles").
func (d *Doc) Has(path string) bool { return d.node(path) != nil }

// Decode strictly decodes the part of the document at path ("" for the
// whole document) into v, a pointer to a struct or slice whose fields carry
// yaml tags. A missing part leaves v untouched. Unknown keys, wrong kinds of
// value and bad durations are positioned errors, all of them at once
// (joined, in document order). Even then v is filled with everything else
// (a bad value decodes as if unset, an unknown key is skipped), so that the
// caller can go on validating and report its own problems in the same run;
// Broken tells it which paths to stay quiet about.
func (d *Doc) Decode(path string, v any) error {
	n := d.node(path)
	if n == nil {
		return nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("yamldoc: decode into non-pointer %T", v)
	}
	errs, whole := d.check(n, rv.Type().Elem(), path)
	if whole {
		d.cut(n, path)
		return errors.Join(errs...)
	}
	var opts []yaml.DecodeOption
	if len(errs) == 0 {
		opts = append(opts, yaml.DisallowUnknownField())
	}
	if err := yaml.NodeToValue(n, v, opts...); err != nil {
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		var e *Error
		if errors.As(err, &e) {
			if e.File == "" {
				e.File = d.Name
			}
			return e
		}
		return fromYAML(d.Name, err)
	}
	return errors.Join(errs...)
}

// Broken reports whether path, or a key path it lies under, held a value
// that Decode reported and left out.
func (d *Doc) Broken(path string) bool {
	for b := range d.broken {
		if b == "" || path == b || strings.HasPrefix(path, b+".") || strings.HasPrefix(path, b+"[") {
			return true
		}
	}
	return false
}

// Errorf returns an error positioned at the value of path, or at the nearest
// enclosing key that exists when path is not in the document.
func (d *Doc) Errorf(path, format string, args ...any) *Error {
	p := path
	for p != "" {
		if n := d.node(p); n != nil {
			return d.errorAt(n, path, fmt.Sprintf(format, args...))
		}
		p = parent(p)
	}
	if d.body != nil {
		return d.errorAt(d.body, path, fmt.Sprintf(format, args...))
	}
	return &Error{File: d.Name, Path: path, Msg: fmt.Sprintf(format, args...)}
}

func parent(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

func (d *Doc) errorAt(n ast.Node, path, msg string) *Error {
	e := &Error{File: d.Name, Path: path, Msg: msg}
	if m, ok := n.(ast.MapNode); ok {
		// A mapping's own token is its first ':'; point at its first key.
		if it := m.MapRange(); it.Next() {
			n = it.Key()
		}
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		e.Line, e.Column = tk.Position.Line, tk.Position.Column
	}
	return e
}

// node finds the value at a path such as roles[1].eligible.groups.
func (d *Doc) node(path string) ast.Node {
	if d.body == nil {
		return nil
	}
	if path == "" {
		return d.body
	}
	p, err := yaml.PathString("$." + path)
	if err != nil {
		return nil
	}
	n, err := p.FilterNode(d.body)
	if err != nil || n == nil {
		return nil
	}
	return n
}

var nodeUnmarshaler = reflect.TypeFor[yaml.NodeUnmarshaler]()

// check walks n against t before decoding so that every structural problem
// is reported with its key path and what would have been valid. It goes on
// after a problem: a bad value is replaced by null in the tree (so it
// decodes as if unset) and its path recorded in d.broken. self reports that
// n itself is bad, for the caller to replace.
func (d *Doc) check(n ast.Node, t reflect.Type, path string) (errs []error, self bool) {
	n = unwrap(n)
	if n == nil || n.Type() == ast.NullType {
		return nil, false
	}
	if n.Type() == ast.AliasType || n.Type() == ast.MergeKeyType {
		return nil, false // resolved by the decoder; checked there
	}
	bad := func(e *Error) ([]error, bool) { return []error{e}, true }
	if reflect.PointerTo(t).Implements(nodeUnmarshaler) {
		// Run the type's own decoding now, so its error joins the others.
		if err := reflect.New(t).Interface().(yaml.NodeUnmarshaler).UnmarshalYAML(n); err != nil {
			var e *Error
			if !errors.As(err, &e) {
				e = d.errorAt(n, path, err.Error())
			}
			if e.File == "" {
				e.File = d.Name
			}
			return bad(e)
		}
		return nil, false
	}
	switch t.Kind() {
	case reflect.Pointer:
		return d.check(n, t.Elem(), path)
	case reflect.Struct:
		return d.checkStruct(n, t, path)
	case reflect.Slice:
		return d.checkSlice(n, t, path)
	case reflect.String:
		switch n.Type() {
		case ast.StringType, ast.IntegerType, ast.FloatType, ast.LiteralType, ast.BoolType:
			if n.Type() == ast.IntegerType && strings.HasPrefix(n.GetToken().Value, "0") && len(n.GetToken().Value) > 1 {
				return bad(d.errorAt(n, path, fmt.Sprintf("%s has a leading zero and would be read as a number; quote it: %q", n.GetToken().Value, n.GetToken().Value)))
			}
		default:
			return bad(d.errorAt(n, path, "expected a single value (text), got "+describe(n)))
		}
	case reflect.Bool:
		if n.Type() != ast.BoolType {
			return bad(d.errorAt(n, path, fmt.Sprintf("%s is not true or false", describe(n))))
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		if n.Type() != ast.IntegerType {
			return bad(d.errorAt(n, path, fmt.Sprintf("%s is not a whole number", describe(n))))
		}
	}
	return errs, false
}

// checkStruct checks a mapping against struct type t: every key must name a
// field, and each value is checked against its field.
func (d *Doc) checkStruct(n ast.Node, t reflect.Type, path string) (errs []error, self bool) {
	bad := func(e *Error) ([]error, bool) { return []error{e}, true }
	var entries []*ast.MappingValueNode
	switch m := n.(type) {
	case *ast.MappingNode:
		entries = m.Values
	case *ast.MappingValueNode:
		entries = []*ast.MappingValueNode{m}
	default:
		return bad(d.errorAt(n, path, "expected keys and values (key: value), got "+describe(n)))
	}
	fields := yamlFields(t)
	for _, mv := range entries {
		kn := mv.Key
		if kn.Type() == ast.MergeKeyType {
			continue
		}
		key := kn.GetToken().Value
		sub := key
		if path != "" {
			sub = path + "." + key
		}
		f, ok := fields[key]
		if !ok {
			errs = append(errs, d.errorAt(kn, path, fmt.Sprintf("unknown key %q (expected one of: %s)", key, strings.Join(sortedKeys(fields), ", "))))
			continue
		}
		subErrs, self := d.check(mv.Value, f, sub)
		errs = append(errs, subErrs...)
		if self {
			mv.Value = d.cut(mv.Value, sub)
		}
	}
	return errs, false
}

// checkSlice checks a sequence against slice type t, item by item.
func (d *Doc) checkSlice(n ast.Node, t reflect.Type, path string) (errs []error, self bool) {
	bad := func(e *Error) ([]error, bool) { return []error{e}, true }
	s, ok := n.(*ast.SequenceNode)
	if !ok {
		return bad(d.errorAt(n, path, "expected a list such as [a, b] or lines starting with '- ', got "+describe(n)))
	}
	for i, v := range s.Values {
		sub := fmt.Sprintf("%s[%d]", path, i)
		subErrs, self := d.check(v, t.Elem(), sub)
		errs = append(errs, subErrs...)
		if self {
			s.Values[i] = d.cut(v, sub)
		}
	}
	return errs, false
}

// cut records path as broken and returns a null node to stand in for n.
func (d *Doc) cut(n ast.Node, path string) ast.Node {
	if d.broken == nil {
		d.broken = map[string]bool{}
	}
	d.broken[path] = true
	return ast.Null(token.New("null", "null", n.GetToken().Position))
}

// SortErrors flattens joined errors and orders positioned ones by file,
// line and column (others last), so a run that reports every problem reads
// top to bottom.
func SortErrors(err error) error {
	var flat []error
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		if e != nil {
			flat = append(flat, e)
		}
	}
	walk(err)
	slices.SortStableFunc(flat, func(a, b error) int {
		var ea, eb *Error
		okA, okB := errors.As(a, &ea), errors.As(b, &eb)
		switch {
		case okA && okB:
			if ea.File != eb.File {
				return strings.Compare(ea.File, eb.File)
			}
			if ea.Line != eb.Line {
				return ea.Line - eb.Line
			}
			return ea.Column - eb.Column
		case okA:
			return -1
		case okB:
			return 1
		}
		return 0
	})
	return errors.Join(flat...)
}

func unwrap(n ast.Node) ast.Node {
	for {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		default:
			return n
		}
	}
}

func describe(n ast.Node) string {
	switch n.Type() {
	case ast.MappingType, ast.MappingValueType:
		return "keys and values"
	case ast.SequenceType:
		return "a list"
	case ast.StringType, ast.IntegerType, ast.FloatType, ast.BoolType, ast.LiteralType:
		return fmt.Sprintf("%q", n.GetToken().Value)
	}
	return n.Type().String()
}

func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && (name == "" && strings.Contains(opts, "inline") || name == "" && f.Type.Kind() == reflect.Struct) {
			maps.Copy(out, yamlFields(f.Type))
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func sortedKeys(m map[string]reflect.Type) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// fromYAML turns a go-yaml error into a positioned Error.
func fromYAML(name string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		e := &Error{File: name, Msg: strings.TrimSpace(ye.GetMessage())}
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Column = tk.Position.Line, tk.Position.Column
		}
		return e
	}
	return &Error{File: name, Msg: err.Error()}
}

// Duration is a Go duration string in YAML ("15m", "1h30m", "12h").
type Duration time.Duration

// UnmarshalYAML implements yaml.NodeUnmarshaler with a positioned error.
func (d *Duration) UnmarshalYAML(n ast.Node) error {
	n = unwrap(n)
	if n.Type() == ast.NullType {
		return nil
	}
	s := ""
	if tk := n.GetToken(); tk != nil {
		s = tk.Value
	}
	v, err := time.ParseDuration(s)
	if err != nil || n.Type() != ast.StringType && s != "0" {
		return nodeError(n, fmt.Sprintf("%q is not a duration (use 15m, 1h, 12h)", s))
	}
	if v < 0 {
		return nodeError(n, fmt.Sprintf("%q is negative; durations are positive (15m, 1h, 12h)", s))
	}
	*d = Duration(v)
	return nil
}

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func nodeError(n ast.Node, msg string) *Error {
	e := &Error{Path: strings.TrimPrefix(strings.TrimPrefix(n.GetPath(), "$"), "."), Msg: msg}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		e.Line, e.Column = tk.Position.Line, tk.Position.Column
	}
	return e
}

var _ yaml.NodeUnmarshaler = (*Duration)(nil)
