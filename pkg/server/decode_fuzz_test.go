package server

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jit-access/jit/pkg/api"
)

// FuzzDecodeBodies feeds untrusted bytes to the decoder of every API body:
// it never panics, and every refusal is an *api.Error (a 400 with a message)
// or the body limit.
func FuzzDecodeBodies(f *testing.F) {
	for _, seed := range []string{`{"role":"prod","reason":"x","duration_seconds":3600}`, `{"comment":"ok"}`,
		`{"duration_seconds":-1}`, `{"role":1}`, `{"unknown":true}`, `[]`, `null`, ``, `{"role":"\u0000"}`,
		`{"role":"a","role":"b"}`, `{"comment":"x"}{"comment":"y"}`, `{"a":[{"b":1,"b":2}]}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, v := range []any{&api.CreateRequest{}, &api.DecisionBody{}, &api.ExtendBody{}} {
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodPost, "/v1/requests", bytes.NewReader(body))
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
			err := decode(r, v)
			var apiErr *api.Error
			var tooBig *http.MaxBytesError
			if err != nil && !errors.As(err, &apiErr) && !errors.As(err, &tooBig) {
				t.Fatalf("decode(%q) = %T %v", body, err, err)
			}
		}
	})
}
