package bench

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"

	"github.com/jit-access/jit/pkg/vend"
)

// stsFaultProxy is a FAULT-INJECTING reverse proxy in front of MinIO's STS
// (MinIO cannot be told to fail): while failing, it answers every
// AssumeRole itself, in turn 503 ServiceUnavailable and 400 Throttling as
// AWS STS does, without passing it on; otherwise it passes every call
// through and counts, per grant (the jit-request-id session tag), the
// AssumeRole answers that reached jit with credentials.
type stsFaultProxy struct {
	srv *httptest.Server

	mu        sync.Mutex
	failing   bool
	n         int
	injected  map[string]int // answer → count
	delivered map[string]int // request id → AssumeRole 2xx passed to jit
}

func startSTSFaultProxy(t *testing.T, upstream string) *stsFaultProxy {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	p := &stsFaultProxy{injected: map[string]int{}, delivered: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		if form.Get("Action") != "AssumeRole" {
			rp.ServeHTTP(w, r)
			return
		}
		if p.fail(w) {
			return
		}
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		rp.ServeHTTP(rec, r)
		if rec.status/100 == 2 {
			p.mu.Lock()
			p.delivered[requestTag(form)]++
			p.mu.Unlock()
		}
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *stsFaultProxy) URL() string { return p.srv.URL }

// SetFailing turns the injected failures on or off.
func (p *stsFaultProxy) SetFailing(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failing = on
}

func (p *stsFaultProxy) fail(w http.ResponseWriter) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.failing {
		return false
	}
	p.n++
	w.Header().Set("Content-Type", "text/xml")
	code, status := "ServiceUnavailable", http.StatusServiceUnavailable
	if p.n%2 == 0 {
		code, status = "Throttling", http.StatusBadRequest
	}
	p.injected[fmt.Sprintf("%d %s", status, code)]++
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>%s</Type><Code>%s</Code><Message>injected by the test's fault proxy</Message></Error><RequestId>fault-%d</RequestId></ErrorResponse>`,
		map[bool]string{true: "Receiver", false: "Sender"}[status >= 500], code, p.n)
	return true
}

// requestTag is the grant an AssumeRole form is for.
func requestTag(form url.Values) string {
	for i := 1; ; i++ {
		k := form.Get(fmt.Sprintf("Tags.member.%d.Key", i))
		if k == "" {
			return ""
		}
		if k == vend.TagRequestID {
			return form.Get(fmt.Sprintf("Tags.member.%d.Value", i))
		}
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
