package api

import (
	"net/http"
	"testing"
	"time"
)

func TestFormatDurationReadsLikeAPerson(t *testing.T) {
	for d, want := range map[time.Duration]string{
		45 * time.Second: "45s", 30 * time.Minute: "30m", time.Hour: "1h", 90 * time.Minute: "1h30m",
		10 * time.Hour: "10h", 10 * time.Minute: "10m", 61 * time.Second: "1m1s", 1500 * time.Millisecond: "2s",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

// The written-out numbers of HTTPStatus are net/http's statuses.
func TestHTTPStatusOfEachErrorCode(t *testing.T) {
	for code, want := range map[string]int{
		CodeUnauthenticated: http.StatusUnauthorized, CodeForbidden: http.StatusForbidden, CodeNotFound: http.StatusNotFound,
		CodeInvalid: http.StatusBadRequest, CodeConflict: http.StatusConflict, CodeNoCredentials: http.StatusConflict,
		CodeRateLimited: http.StatusTooManyRequests, CodeVendFailed: http.StatusBadGateway,
		CodeUnavailable: http.StatusServiceUnavailable, "something_else": http.StatusInternalServerError,
	} {
		if got := HTTPStatus(code); got != want {
			t.Errorf("HTTPStatus(%q) = %d, want %d", code, got, want)
		}
	}
}
