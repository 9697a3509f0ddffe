package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/jit-access/jit/pkg/api"
)

// rawCall posts body bytes as they are, as user, and decodes the answer.
func (e *env) rawCall(user, path, body string) (int, api.Error) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), "POST", e.url+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.tokens[user])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var ae api.Error
	_ = json.Unmarshal(data, &ae)
	return resp.StatusCode, ae
}

// TestRequestBodyWithDuplicateKeyRefused: {"role":"readonly","role":"prod-admin"}
// used to create a prod-admin request (the last key won), while anything that
// read the first key (a proxy, a WAF, a log) saw readonly. Duplicates at any
// depth are now a 400 that names the key, and nothing is created.
func TestRequestBodyWithDuplicateKeyRefused(t *testing.T) {
	e := newEnv(t)
	for _, body := range []string{
		`{"role":"readonly","reason":"x","role":"prod-admin"}`,
		`{"role":"readonly","reason":"x","duration_seconds":60,"duration_seconds":7200}`,
	} {
		code, ae := e.rawCall("alice", "/v1/requests", body)
		if code != http.StatusBadRequest || ae.Code != api.CodeInvalid || !strings.Contains(ae.Message, "duplicate key") {
			t.Errorf("%s: HTTP %d %+v, want 400 naming the duplicate key", body, code, ae)
		}
	}
	var list api.RequestList
	e.call("alice", "GET", "/v1/requests?scope=mine", nil, &list)
	if len(list.Requests) != 0 {
		t.Fatalf("a refused body created %d request(s)", len(list.Requests))
	}
	id := e.create("alice", api.CreateRequest{Role: "prod-admin", Reason: "r"}).ID
	code, ae := e.rawCall("bob", "/v1/requests/"+id+"/deny", `{"comment":"no","comment":"yes"}`)
	if code != http.StatusBadRequest || !strings.Contains(ae.Message, `duplicate key "comment"`) {
		t.Fatalf("deny with duplicate comment: HTTP %d %+v", code, ae)
	}
}

// TestRequestBodyWithTrailingDataRefused: a second JSON value or junk after
// the first used to be ignored; now the body must be exactly one value.
func TestRequestBodyWithTrailingDataRefused(t *testing.T) {
	e := newEnv(t)
	for _, body := range []string{
		`{"role":"readonly","reason":"x"}{"role":"prod-admin"}`,
		`{"role":"readonly","reason":"x"} junk`,
		`{"role":"readonly","reason":"x"}]`,
	} {
		code, ae := e.rawCall("alice", "/v1/requests", body)
		if code != http.StatusBadRequest || !strings.Contains(ae.Message, "trailing data") {
			t.Errorf("%s: HTTP %d %+v, want 400 naming the trailing data", body, code, ae)
		}
	}
	// One value with surrounding whitespace is fine.
	if code, ae := e.rawCall("alice", "/v1/requests", " {\"role\":\"readonly\",\"reason\":\"x\"}\n"); code != http.StatusCreated {
		t.Fatalf("a well-formed body: HTTP %d %+v", code, ae)
	}
}
