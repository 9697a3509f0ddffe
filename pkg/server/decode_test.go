package server

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/jit-access/jit/pkg/api"
)

func TestDecodeStrictness(t *testing.T) {
	for _, tc := range []struct {
		body string
		want string // "" = accepted
	}{
		{``, ""},
		{`  `, ""},
		{`{"role":"a","reason":"b"}`, ""},
		{`{"role":"a","role":"b"}`, `duplicate key "role" in the body`},
		{`{"role":"a","Role":"b"}`, `duplicate key "Role"`}, // encoding/json matches case-insensitively
		{`{"a":{"x":1,"x":2}}`, `duplicate key "x" in the body.a`},
		{`{"a":[{"x":1},{"y":1,"y":2}]}`, `duplicate key "y" in the body.a[1]`},
		{`{"role":"a"}{}`, "trailing data"},
		{`{"role":"a"} 1`, "trailing data"},
		{`{"role":"a"`, "bad JSON body"},
		{`{"nope":1}`, "unknown field"},
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/v1/requests", strings.NewReader(tc.body))
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		var v api.CreateRequest
		err := decode(r, &v)
		if tc.want == "" {
			if err != nil {
				t.Errorf("decode(%q) = %v, want ok", tc.body, err)
			}
			continue
		}
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Code != api.CodeInvalid || !strings.Contains(ae.Message, tc.want) {
			t.Errorf("decode(%q) = %v, want an invalid error containing %q", tc.body, err, tc.want)
		}
	}
}

func TestDecodeBodyLimit(t *testing.T) {
	w := httptest.NewRecorder()
	big := `{"reason":"` + strings.Repeat("x", maxBody) + `"}`
	r := httptest.NewRequest(http.MethodPost, "/v1/requests", bytes.NewReader([]byte(big)))
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	var tooBig *http.MaxBytesError
	if err := decode(r, &api.CreateRequest{}); !errors.As(err, &tooBig) {
		t.Fatalf("decode(huge) = %v, want the body limit", err)
	}
}

// TestDuplicateKeyByUnicodeCaseFoldRefused: encoding/json matches a key to
// a field with Unicode case folding, where "ſ" (U+017F) folds to "s" and
// "K" (U+212A, Kelvin) to "k". strings.ToLower keeps them, so
// {"reason":"a","rea\u017fon":"b"} passed the duplicate check and the last
// one silently won.
func TestDuplicateKeyByUnicodeCaseFoldRefused(t *testing.T) {
	for _, body := range []string{
		`{"role":"r","reason":"shown","rea\u017fon":"acted on"}`,
		`{"role":"r","reason":"shown","reaſon":"acted on"}`,
		`{"role":"r","ticket":"T-1","tic\u212aet":"T-2"}`,
		`{"role":"r","re\u0061son":"a","reason":"b"}`,
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/v1/requests", strings.NewReader(body))
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		var v api.CreateRequest
		err := decode(r, &v)
		if err == nil || !strings.Contains(err.Error(), "duplicate key") {
			t.Errorf("decode(%s) = %v (reason %q ticket %q), want a duplicate key refusal", body, err, v.Reason, v.Ticket)
		}
	}
}

// TestDeeplyNestedBodyRefusedWithoutQuadraticWork: a 64 KiB body of
// nested arrays ({"role":[[[[…) made the duplicate-key walk build a path
// string per level, O(depth²): about 25 s of CPU and 12 GB allocated for
// one request from any signed-in user. Nesting past maxBodyDepth is now
// refused at once.
func TestDeeplyNestedBodyRefusedWithoutQuadraticWork(t *testing.T) {
	for _, open := range []string{"[", `{"a":`} {
		body := `{"role":` + strings.Repeat(open, (maxBody-16)/len(open))
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/v1/requests", strings.NewReader(body))
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		var v api.CreateRequest
		err := decode(r, &v)
		runtime.ReadMemStats(&m1)
		if err == nil || !strings.Contains(err.Error(), "nested deeper than") {
			t.Errorf("%q×%d: decode = %v, want refused for its depth", open, len(body), err)
		}
		if alloc := m1.TotalAlloc - m0.TotalAlloc; alloc > 16<<20 {
			t.Errorf("%q: decoding a %d-byte body allocated %d MB", open, len(body), alloc>>20)
		}
	}
	// Bodies as deep as the API's own are fine.
	ok := `{"role":"r","reason":"x"}`
	r := httptest.NewRequest(http.MethodPost, "/v1/requests", strings.NewReader(ok))
	if err := decode(r, &api.CreateRequest{}); err != nil {
		t.Fatalf("decode(%s) = %v", ok, err)
	}
}
