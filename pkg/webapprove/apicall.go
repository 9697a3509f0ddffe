package webapprove

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"github.com/jit-access/jit/pkg/api"
)

// This file is how the pages call the server's API handler in process, as the signed-in approver.

// call runs one API request through the server's own handler with the
// session's ID token, and decodes the answer or the API's error.
func (h *Handler) call(r *http.Request, apiH http.Handler, s *session, method, path string, in, out any) (int, *api.Error) {
	var body io.Reader = http.NoBody
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return http.StatusInternalServerError, &api.Error{Code: api.CodeInternal, Message: err.Error()}
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(r.Context(), method, path, body)
	if err != nil {
		return http.StatusInternalServerError, &api.Error{Code: api.CodeInternal, Message: err.Error()}
	}
	req.RemoteAddr = r.RemoteAddr
	req.Host = r.Host
	req.Header.Set("Authorization", "Bearer "+s.IDToken)
	req.Header.Set("User-Agent", "jit-approval-page")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := &recorder{header: http.Header{}, code: http.StatusOK}
	apiH.ServeHTTP(rec, req)
	if rec.code >= 300 {
		e := &api.Error{}
		if json.Unmarshal(rec.body.Bytes(), e) != nil || e.Message == "" {
			e = &api.Error{Code: api.CodeInternal, Message: http.StatusText(rec.code)}
		}
		return rec.code, e
	}
	if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
		return http.StatusInternalServerError, &api.Error{Code: api.CodeInternal, Message: "bad API answer: " + err.Error()}
	}
	return rec.code, nil
}

// recorder collects an in-process API response.
type recorder struct {
	header http.Header
	code   int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
	}
}
func (r *recorder) Write(p []byte) (int, error) {
	r.wrote = true
	return r.body.Write(p)
}
