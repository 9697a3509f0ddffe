package serverapp

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// appliedOnReload are the config keys a SIGHUP applies, written with []
// for any list index. Every other key whose value changed is named in a
// warning and audited (config.restart_required) as taking effect only
// after a restart; a key added to config.Config is such a key until it
// is listed here and applied in reload.
var appliedOnReload = map[string]bool{
	// The policy.
	"roles": true, "policy_file": true, "admins": true,
	// The TLS certificate (re-read on every reload; turning TLS on or off
	// takes a restart, checked in live.apply).
	"tls.cert_file": true, "tls.key_file": true,
	// Static AWS keys (adding or removing them takes a restart, checked in
	// live.apply).
	"aws.access_key_id": true, "aws.secret_access_key": true,
	"aws.access_key_id_file": true, "aws.secret_access_key_file": true,
	// Webhook and Slack secrets (notifier.UpdateSecrets).
	"notify.webhooks[].secret": true, "notify.webhooks[].secret_file": true,
	"notify.slack.bot_token": true, "notify.slack.signing_secret": true,
	"notify.slack.bot_token_file": true, "notify.slack.signing_secret_file": true,
	// The trusted issuers besides oidc: (server.Issuers.Swap; each checked
	// for a discoverable JWKS first). oidc: itself takes a restart: the
	// discovery the CLI reads names it.
	"issuers": true,
	// The activity senders' secret (server.SetActivitySecret).
	"activity.secret": true, "activity.secret_file": true,
}

var listIndex = regexp.MustCompile(`\[\d+\]`)

// restartRequired names the keys that differ between the running config
// and a reloaded one and are not applied on reload, in key order.
func restartRequired(running, reloaded any) []string {
	var changed []string
	diffKeys(reflect.ValueOf(running), reflect.ValueOf(reloaded), "", &changed)
	var out []string
	for _, k := range changed {
		if !applied(k) && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// applied: the key or a section it is in is applied on reload.
func applied(key string) bool {
	k := listIndex.ReplaceAllString(key, "[]")
	for {
		if appliedOnReload[k] {
			return true
		}
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			return false
		}
		k = k[:i]
	}
}

// diffKeys appends the YAML key paths where a and b differ: struct fields
// by their yaml tag (fields without one, or "-", are derived and skipped),
// list elements of structs one by one when the lists are as long, anything
// else as a whole.
func diffKeys(a, b reflect.Value, path string, out *[]string) {
	if a.Kind() == reflect.Pointer && !a.IsNil() && !b.IsNil() && a.Type().Elem().Kind() == reflect.Struct {
		a, b = a.Elem(), b.Elem()
	}
	switch {
	case a.Kind() == reflect.Struct && hasYAMLFields(a.Type()):
		for i := range a.NumField() {
			f := a.Type().Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" || !f.IsExported() {
				continue
			}
			p := name
			if path != "" {
				p = path + "." + name
			}
			diffKeys(a.Field(i), b.Field(i), p, out)
		}
	case a.Kind() == reflect.Slice && a.Type().Elem().Kind() == reflect.Struct && hasYAMLFields(a.Type().Elem()) && a.Len() == b.Len():
		for i := range a.Len() {
			diffKeys(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i), out)
		}
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			*out = append(*out, path)
		}
	}
}

// hasYAMLFields: a config section (not a value type such as a duration).
func hasYAMLFields(t reflect.Type) bool {
	for i := range t.NumField() {
		if n, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); n != "" && n != "-" {
			return true
		}
	}
	return false
}
