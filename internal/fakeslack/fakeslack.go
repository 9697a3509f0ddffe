// Package fakeslack is a FAKE of Slack's Web API for tests, because Slack
// cannot run here: a local receiver that checks the bot token, decodes
// chat.postMessage, chat.update and views.open the way Slack does (blocks
// and views must parse into slack-go's Block Kit types), answers
// users.info, takes response_url posts, and records all of it. Its
// Sign signs calls to jit's Slack endpoints exactly as Slack does (v0
// HMAC-SHA256 of "v0:TIMESTAMP:BODY" under the signing secret).
package fakeslack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
)

// ResponsePath is the fake's response_url endpoint: Slack's
// hooks.slack.com/... stand-in. A response_url names a conversation: the
// path after it is kept with each answer.
const ResponsePath = "/response"

// Posted is one chat.postMessage or chat.update.
type Posted struct {
	Channel string
	Text    string
	Blocks  slackapi.Blocks
}

// Response is one post to a response_url.
type Response struct {
	// Path is the response_url's path after ResponsePath.
	Path            string
	ResponseType    string `json:"response_type"`
	ReplaceOriginal bool   `json:"replace_original"`
	Text            string `json:"text"`
}

// Slack is the fake. Lock Mu to read its records.
type Slack struct {
	t        testing.TB
	botToken string
	Mu       sync.Mutex
	// Messages by ts; Replies (thread replies' texts) by parent ts.
	Messages  map[string]Posted
	Replies   map[string][]string
	Updates   int
	Responses []Response
	// Views are the views opened (views.open), with their trigger ids.
	Views    []slackapi.ModalViewRequest
	Triggers []string
	// Users answers users.info.
	Users map[string]slackapi.User
	// URL is the fake's base URL (its Web API is URL + "/").
	URL    string
	next   int
	notify chan struct{}
}

// New starts the fake for botToken; it stops when the test ends.
func New(t testing.TB, botToken string) (*Slack, *httptest.Server) {
	f := &Slack{t: t, botToken: botToken, Messages: map[string]Posted{}, Replies: map[string][]string{},
		Users: map[string]slackapi.User{}, notify: make(chan struct{}, 1)}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f, srv
}

// ResponseURL is a response_url that reaches the fake, for conversation id.
func (f *Slack) ResponseURL(id string) string { return f.URL + ResponsePath + "/" + id }

func (f *Slack) changed() {
	select {
	case f.notify <- struct{}{}:
	default:
	}
}

// WaitFor waits up to timeout for cond (called with Mu held) to hold.
func (f *Slack) WaitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.After(timeout)
	for {
		f.Mu.Lock()
		ok := cond()
		f.Mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-f.notify:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			return false
		}
	}
}

// ResponsesTo returns the answers posted to ResponseURL(id).
func (f *Slack) ResponsesTo(id string) []Response {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	var out []Response
	for _, r := range f.Responses {
		if r.Path == id {
			out = append(out, r)
		}
	}
	return out
}

// WaitResponse waits for the n-th (1-based) answer to ResponseURL(id).
func (f *Slack) WaitResponse(t testing.TB, id string, n int) Response {
	t.Helper()
	if !f.WaitFor(20*time.Second, func() bool {
		c := 0
		for _, r := range f.Responses {
			if r.Path == id {
				c++
			}
		}
		return c >= n
	}) {
		t.Fatalf("fake Slack: no answer #%d on response_url %s (answers: %+v)", n, id, f.ResponsesTo(id))
	}
	return f.ResponsesTo(id)[n-1]
}

// ServeHTTP implements Slack's side.
func (f *Slack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	defer f.changed()
	if rest, ok := strings.CutPrefix(r.URL.Path, ResponsePath); ok {
		var a Response
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
			f.t.Errorf("response_url: %v", err)
		}
		a.Path = strings.TrimPrefix(rest, "/")
		f.Mu.Lock()
		f.Responses = append(f.Responses, a)
		f.Mu.Unlock()
		return
	}
	var raw []byte
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		raw, _ = io.ReadAll(r.Body) // a JSON method (views.open)
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	token := r.PostForm.Get("token")
	if h := r.Header.Get("Authorization"); h != "" {
		token = strings.TrimPrefix(h, "Bearer ")
	}
	if token != f.botToken {
		fmt.Fprint(w, `{"ok":false,"error":"invalid_auth"}`)
		return
	}
	f.Mu.Lock()
	defer f.Mu.Unlock()
	switch r.URL.Path {
	case "/chat.postMessage", "/chat.update":
		p := Posted{Channel: r.PostForm.Get("channel"), Text: r.PostForm.Get("text")}
		if b := r.PostForm.Get("blocks"); b != "" {
			if err := json.Unmarshal([]byte(b), &p.Blocks); err != nil {
				f.t.Errorf("%s: blocks do not parse as Block Kit: %v", r.URL.Path, err)
			}
		}
		if p.Channel == "" {
			fmt.Fprint(w, `{"ok":false,"error":"channel_not_found"}`)
			return
		}
		ts := r.PostForm.Get("ts")
		switch {
		case r.URL.Path == "/chat.update":
			if _, ok := f.Messages[ts]; !ok {
				fmt.Fprint(w, `{"ok":false,"error":"message_not_found"}`)
				return
			}
			f.Updates++
			f.Messages[ts] = p
		case r.PostForm.Get("thread_ts") != "":
			parent := r.PostForm.Get("thread_ts")
			f.Replies[parent] = append(f.Replies[parent], p.Text)
		default:
			f.next++
			ts = fmt.Sprintf("1700000000.%06d", f.next)
			f.Messages[ts] = p
		}
		fmt.Fprintf(w, `{"ok":true,"channel":%q,"ts":%q}`, p.Channel, ts)
	case "/views.open":
		var body struct {
			TriggerID string                    `json:"trigger_id"`
			View      slackapi.ModalViewRequest `json:"view"`
		}
		if err := json.Unmarshal(raw, &body); err != nil {
			f.t.Errorf("views.open: the view does not parse as Block Kit: %v", err)
			fmt.Fprint(w, `{"ok":false,"error":"invalid_arguments"}`)
			return
		}
		if body.TriggerID == "" {
			fmt.Fprint(w, `{"ok":false,"error":"invalid_trigger_id"}`)
			return
		}
		f.Views = append(f.Views, body.View)
		f.Triggers = append(f.Triggers, body.TriggerID)
		fmt.Fprintf(w, `{"ok":true,"view":{"id":"V%d"}}`, len(f.Views))
	case "/users.info":
		u, ok := f.Users[r.PostForm.Get("user")]
		if !ok {
			fmt.Fprint(w, `{"ok":false,"error":"user_not_found"}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "user": u}) //nolint:errcheck
	default:
		fmt.Fprint(w, `{"ok":false,"error":"unknown_method"}`)
	}
}

// Sign returns the X-Slack-Request-Timestamp and X-Slack-Signature headers
// Slack sends with body at ts under secret.
func Sign(secret string, ts time.Time, body string) (stamp, signature string) {
	stamp = strconv.FormatInt(ts.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "v0:%s:%s", stamp, body)
	return stamp, "v0=" + hex.EncodeToString(m.Sum(nil))
}

// Post sends body (a form, as Slack sends slash commands and
// interactivity) to the URL to, signed as Slack signs it with secret at ts, and
// returns the answer's status and body.
func Post(t testing.TB, to, secret string, ts time.Time, body string) (int, string) {
	t.Helper()
	stamp, sig := Sign(secret, ts, body)
	req, err := http.NewRequest(http.MethodPost, to, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Submission is the form body Slack posts to the interactivity endpoint
// when user of team submits a modal with callbackID: values are what was
// typed per block (each block's one element has action id "value"), and
// selectBlock names the block whose value was chosen from a select;
// metadata is the view's private_metadata.
func Submission(t testing.TB, team, user, callbackID, metadata, selectBlock string, values map[string]string) string {
	t.Helper()
	state := map[string]map[string]slackapi.BlockAction{}
	for block, v := range values {
		a := slackapi.BlockAction{ActionID: "value", Value: v}
		if block == selectBlock {
			a = slackapi.BlockAction{ActionID: "value", SelectedOption: slackapi.OptionBlockObject{Value: v}}
		}
		state[block] = map[string]slackapi.BlockAction{"value": a}
	}
	return Interaction(t, slackapi.InteractionCallback{Type: slackapi.InteractionTypeViewSubmission,
		User: slackapi.User{ID: user}, Team: slackapi.Team{ID: team},
		View: slackapi.View{CallbackID: callbackID, PrivateMetadata: metadata, State: &slackapi.ViewState{Values: state}}})
}

// Interaction is the form body of an interactivity call carrying cb.
func Interaction(t testing.TB, cb slackapi.InteractionCallback) string {
	t.Helper()
	b, err := json.Marshal(cb)
	if err != nil {
		t.Fatal(err)
	}
	return url.Values{"payload": {string(b)}}.Encode()
}
