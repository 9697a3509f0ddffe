// Package yamldoc decodes YAML configuration strictly and turns every problem
// into an error that names file:line:column, the key path and what was
// expected, so that an operator can fix a config file without guessing.
//
// It is shared by pkg/config (the server's config file) and pkg/policy (the
// roles, inline in the config or in their own file).
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
// value and bad durations are positioned errors.
func (d *Doc) Decode(path string, v any) error {
	n := d.node(path)
	if n == nil {
		return nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("yamldoc: decode into non-pointer %T", v)
	}
	if err := d.check(n, rv.Type().Elem(), path); err != nil {
		return err
	}
	if err := yaml.NodeToValue(n, v, yaml.DisallowUnknownField()); err != nil {
		var e *Error
		if errors.As(err, &e) {
			if e.File == "" {
				e.File = d.Name
			}
			return e
		}
		return fromYAML(d.Name, err)
	}
	return nil
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
// is reported with its key path and what would have been valid.
func (d *Doc) check(n ast.Node, t reflect.Type, path string) error {
	n = unwrap(n)
	if n == nil || n.Type() == ast.NullType {
		return nil
	}
	if n.Type() == ast.AliasType || n.Type() == ast.MergeKeyType {
		return nil // resolved by the decoder; checked there
	}
	if reflect.PointerTo(t).Implements(nodeUnmarshaler) {
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return d.check(n, t.Elem(), path)
	case reflect.Struct:
		m, ok := n.(ast.MapNode)
		if !ok {
			return d.errorAt(n, path, "expected keys and values (key: value), got "+describe(n))
		}
		fields := yamlFields(t)
		it := m.MapRange()
		for it.Next() {
			kn := it.Key()
			key := kn.GetToken().Value
			if kn.Type() == ast.MergeKeyType {
				continue
			}
			sub := key
			if path != "" {
				sub = path + "." + key
			}
			f, ok := fields[key]
			if !ok {
				return d.errorAt(kn, path, fmt.Sprintf("unknown key %q (expected one of: %s)", key, strings.Join(sortedKeys(fields), ", ")))
			}
			if err := d.check(it.Value(), f, sub); err != nil {
				return err
			}
		}
	case reflect.Slice:
		s, ok := n.(*ast.SequenceNode)
		if !ok {
			return d.errorAt(n, path, "expected a list such as [a, b] or lines starting with '- ', got "+describe(n))
		}
		for i, v := range s.Values {
			if err := d.check(v, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.String:
		switch n.Type() {
		case ast.StringType, ast.IntegerType, ast.FloatType, ast.LiteralType, ast.BoolType:
			if n.Type() == ast.IntegerType && strings.HasPrefix(n.GetToken().Value, "0") && len(n.GetToken().Value) > 1 {
				return d.errorAt(n, path, fmt.Sprintf("%s has a leading zero and would be read as a number; quote it: %q", n.GetToken().Value, n.GetToken().Value))
			}
		default:
			return d.errorAt(n, path, "expected a single value (text), got "+describe(n))
		}
	case reflect.Bool:
		if n.Type() != ast.BoolType {
			return d.errorAt(n, path, fmt.Sprintf("%s is not true or false", describe(n)))
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		if n.Type() != ast.IntegerType {
			return d.errorAt(n, path, fmt.Sprintf("%s is not a whole number", describe(n)))
		}
	}
	return nil
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
