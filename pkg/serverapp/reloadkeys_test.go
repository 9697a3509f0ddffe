package serverapp

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/jit-access/jit/pkg/config"
	"github.com/jit-access/jit/pkg/policy"
)

// baseConfig has one element in every list of sections, so that each of
// their keys can be changed on its own.
func baseConfig() *config.Config {
	return &config.Config{
		Notify: config.Notify{Webhooks: []config.Webhook{{URL: "https://hooks.example.com/a"}}},
		Roles: []policy.RoleSpec{{Name: "one",
			Eligible:  policy.Subjects{Workloads: []policy.WorkloadSubject{{Issuer: "github"}}},
			Approvers: policy.Subjects{Workloads: []policy.WorkloadSubject{{Issuer: "github"}}}}},
		Issuers: []config.Issuer{{Name: "github"}},
	}
}

// eachKey calls fn with every leaf key path of v's type (as diffKeys
// walks it) and a setter that changes that key in a value of the type.
func eachKey(t reflect.Type, path string, at func(reflect.Value) reflect.Value, fn func(path string, change func(reflect.Value))) {
	if t.Kind() == reflect.Struct && hasYAMLFields(t) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" || !f.IsExported() {
				continue
			}
			p := name
			if path != "" {
				p = path + "." + name
			}
			eachKey(f.Type, p, func(v reflect.Value) reflect.Value { return at(v).Field(i) }, fn)
		}
		return
	}
	if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct && hasYAMLFields(t.Elem()) {
		eachKey(t.Elem(), path+"[0]", func(v reflect.Value) reflect.Value { return at(v).Index(0) }, fn)
		return
	}
	fn(path, func(v reflect.Value) { change(at(v)) })
}

// change sets v to another value of its type.
func change(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(v.Int() + 1)
	case reflect.Slice:
		v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem())))
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		m.SetMapIndex(reflect.Zero(v.Type().Key()), reflect.Zero(v.Type().Elem()))
		v.Set(m)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
	case reflect.Struct: // a value type such as yamldoc.Duration
		change(v.Field(0))
	default:
		panic(fmt.Sprintf("change: %s", v.Kind()))
	}
}

// Every setting is either applied on reload or named, by its key, as
// needing a restart — tested key by key over config.Config, so that a key
// added later is covered without anyone remembering this test.
func TestEveryConfigKeyIsAppliedOnReloadOrNamedAsNeedingARestart(t *testing.T) {
	var keys []string
	eachKey(reflect.TypeFor[config.Config](), "", func(v reflect.Value) reflect.Value { return v }, func(key string, set func(reflect.Value)) {
		keys = append(keys, key)
		running, reloaded := baseConfig(), baseConfig()
		set(reflect.ValueOf(reloaded).Elem())
		got := restartRequired(running, reloaded)
		switch {
		case applied(key) && len(got) != 0:
			t.Errorf("%s is applied on reload, yet a change is named as needing a restart: %v", key, got)
		case !applied(key) && !slices.Equal(got, []string{key}):
			t.Errorf("a change of %s (not applied on reload) gives %v, want it named", key, got)
		}
	})
	for _, k := range []string{"oidc.max_token_lifetime", "oidc.issuer", "store.dsn", "listen", "activity.window", "notify.webhooks[0].url",
		"notify.webhooks[0].events", "audit.signing_key_file", "rate_limit.burst", "activity.secret", "roles[0].name"} {
		if !slices.Contains(keys, k) {
			t.Errorf("key %s not walked; walked %v", k, keys)
		}
	}
	for k := range appliedOnReload {
		if !slices.ContainsFunc(keys, func(w string) bool { return strings.HasPrefix(listIndex.ReplaceAllString(w, "[]"), k) }) {
			t.Errorf("appliedOnReload names %s, which is no config key", k)
		}
	}
}
