package webapprove

import (
	"bytes"
	"io"
	"net/http"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/policy"
)

// This file is rendering the templates.

type pageData struct {
	Title         string
	Me            api.User
	CSRF          string
	Error         string
	Text          string
	Link          string
	Now           time.Time
	SignedInUntil time.Time
	Requests      []api.Request
	Request       *api.Request
	Explanation   policy.Explanation
	Own           bool
	Pending       bool
	Standing      string // why the policy would refuse this user's approval
	Reviews       []api.Request
	Reviewable    bool // the user may record a post-hoc review verdict
}

func (h *Handler) render(w http.ResponseWriter, status int, name string, d pageData) {
	var buf bytes.Buffer
	if err := h.pages.ExecuteTemplate(&buf, name, d); err != nil {
		h.log.Error("render approval page", "page", name, "err", err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, "internal error rendering the page\n")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// message renders a short page with an optional same-origin link onward.
func (h *Handler) message(w http.ResponseWriter, status int, title, text, link string) {
	if link != "" && !sameOriginPath(link) {
		link = PathPrefix
	}
	h.render(w, status, "message", pageData{Title: title, Text: text, Link: link})
}

func when(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }
