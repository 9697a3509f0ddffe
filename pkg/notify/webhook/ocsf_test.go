package webhook_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/notify/webhook"
	"github.com/jit-access/jit/pkg/ocsf"
)

func TestWebhookInOCSFFormatPostsOneSignedOCSFEvent(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	got := make(chan ocsf.Event, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(secret, r.Header.Get(webhook.HeaderSignature), body, now, webhook.DefaultTolerance); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var e ocsf.Event
		if err := json.Unmarshal(body, &e); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got <- e
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	s, err := webhook.New(webhook.Options{URL: srv.URL, Secret: secret, Format: "ocsf",
		Client: &http.Client{Timeout: 5 * time.Second}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ev := &api.AuditEvent{Seq: 7, Time: now, Type: "request.approved", Actor: "bob@example.com", Subject: "alice@example.com",
		Role: "prod-admin", RequestID: "req_01j", Hash: "ab"}
	if err := s.Deliver(t.Context(), ev, "webhook:x:7"); err != nil {
		t.Fatal(err)
	}
	e := <-got
	if e.ClassUID != ocsf.ClassUserAccess || e.Metadata.CorrelationUID != "req_01j" || e.User.Name != "alice@example.com" || e.Privileges[0] != "prod-admin" {
		t.Errorf("delivered %+v", e)
	}
	if _, err := webhook.New(webhook.Options{URL: srv.URL, Secret: secret, Format: "cef", Client: http.DefaultClient, Now: time.Now}); err == nil ||
		!strings.Contains(err.Error(), "want jit or ocsf") {
		t.Errorf("format cef: %v, want refused", err)
	}
}
