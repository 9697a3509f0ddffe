// Package cmdtest is the command packages' test kit (gh's pattern): an
// httptest server that answers the jit API with the pkg/api wire types, a
// logged-in session on it, and a Factory whose streams tests read back.
package cmdtest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/99designs/keyring"
	"github.com/spf13/cobra"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/credcache"
	"github.com/jit-access/jit/pkg/session"
)

// Routes maps a ServeMux pattern ("GET /v1/whoami") to its answer: an
// http.HandlerFunc, an *api.Error with its HTTP status (see Fail), or any
// value written as a 200 JSON body.
type Routes map[string]any

// Failure is an API error answer.
type Failure struct {
	Status int
	Body   api.Error
}

// Fail answers with status and an api.Error of code and message.
func Fail(status int, code, message string) Failure {
	return Failure{Status: status, Body: api.Error{Code: code, Message: message}}
}

// Server starts an API server on 127.0.0.1 answering routes; every other
// path is a 404 api.Error.
func Server(t *testing.T, routes Routes) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	for pattern, answer := range routes {
		switch a := answer.(type) {
		case http.HandlerFunc:
			mux.Handle(pattern, a)
		case func(http.ResponseWriter, *http.Request):
			mux.HandleFunc(pattern, a)
		default:
			mux.HandleFunc(pattern, func(w http.ResponseWriter, _ *http.Request) { Answer(w, a) })
		}
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusNotFound, api.Error{Code: api.CodeNotFound, Message: "no route " + r.Method + " " + r.URL.Path})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// Answer writes a Failure as its status and api.Error, anything else as a
// 200 JSON body.
func Answer(w http.ResponseWriter, answer any) {
	if f, ok := answer.(Failure); ok {
		WriteJSON(w, f.Status, f.Body)
		return
	}
	WriteJSON(w, http.StatusOK, answer)
}

// WriteJSON writes v as a JSON body with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Session is a session on srv logged in as email, with an in-memory keyring
// holding an ID token valid for an hour from now().
func Session(t *testing.T, srv *httptest.Server, email string, now func() time.Time) *session.Session {
	t.Helper()
	cache := credcache.New(keyring.NewArrayKeyring(nil), "array", credcache.Config{})
	if err := cache.PutTokens(context.Background(), srv.URL, session.Tokens{IDToken: "id-token", Email: email, Expiry: now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	return &session.Session{Server: srv.URL, Cache: cache, HTTPClient: srv.Client(), Now: now}
}

// Execute runs cmd with args (its output going to out) and checks the
// error against wantErr, the exact message a TestNewCmdX table expects ("":
// none). It reports whether the test goes on to look at the parsed options:
// false when the wanted error came.
func Execute(t *testing.T, cmd *cobra.Command, out io.Writer, args []string, wantErr string) bool {
	t.Helper()
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(out)
	err := cmd.Execute()
	if wantErr != "" {
		if err == nil || err.Error() != wantErr {
			t.Fatalf("err = %v, want %q", err, wantErr)
		}
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}
