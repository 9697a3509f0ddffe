package slack_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/fakeslack"
	"github.com/jit-access/jit/pkg/notify/slack"
)

// FuzzSlackCallsAfterTheSignature feeds signed slash commands and
// interactivity payloads of any shape (what a compromised or buggy Slack
// could send) to both endpoints: each answers with a status, never a
// panic, and never a 5xx but the replay store's 503.
func FuzzSlackCallsAfterTheSignature(f *testing.F) {
	for _, seed := range []string{
		url.Values{"team_id": {teamID}, "user_id": {"U1"}, "text": {"link"}}.Encode(),
		url.Values{"team_id": {teamID}, "user_id": {"U1"}, "text": {""}, "trigger_id": {"t"}}.Encode(),
		url.Values{"payload": {`{"type":"view_submission","team":{"id":"T0JIT"},"user":{"id":"U1"},"view":{"callback_id":"jit_request","state":{"values":{"role":{"value":{"type":"static_select","selected_option":{"value":"readonly"}}},"duration":{"value":{"value":"1e400h"}}}}}}`}}.Encode(),
		url.Values{"payload": {`{"type":"block_actions","team":{"id":"T0JIT"},"user":{"id":"U1"},"actions":[{"action_id":"jit_extend","value":"req_1"}]}`}}.Encode(),
		url.Values{"payload": {`{"type":"view_submission","team":{"id":"T0JIT"},"view":null}`}}.Encode(),
		// A linked user's submission without a state.
		url.Values{"payload": {`{"type":"view_submission","team":{"id":"T0JIT"},"user":{"id":"U-ALICE"},"view":{"callback_id":"jit_request"}}`}}.Encode(),
		"payload=%7B",
	} {
		f.Add(seed)
	}
	e := newRequestEnv(f)
	f.Fuzz(func(t *testing.T, body string) {
		for i, path := range []string{slack.CommandsPath, slack.InteractivityPath} {
			// Another second per path: the replay key is (timestamp, body).
			if status, _ := fakeslack.Post(t, e.jit+path, signingSecret, time.Now().Add(-time.Duration(i)*time.Second), body); status >= 500 && status != http.StatusServiceUnavailable {
				t.Fatalf("%s answered %d to %q", path, status, body)
			}
		}
	})
}
