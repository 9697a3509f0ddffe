package webapp

import (
	"bytes"
	"html/template"
	"io"
	"math"
	"net/http"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/grants"
	"github.com/jit-access/jit/pkg/policy"
)

// This file is rendering the templates.

type pageData struct {
	Title string
	// Section is the navigation entry this page belongs to: home, roles,
	// approve.
	Section       string
	Me            api.User
	CSRF          string
	Error         string
	Text          string
	Link          string
	Now           time.Time
	SignedInUntil time.Time
	// DecideUntil is when the sign-in gets too old to decide (zero: it
	// already is).
	DecideUntil time.Time
	Requests    []api.Request
	Request     *api.Request
	Explanation policy.Explanation
	Own         bool
	Pending     bool
	Standing    string // why the policy would refuse this user's approval
	Reviews     []api.Request
	Reviewable  bool // the user may record a post-hoc review verdict

	// The requester's side.
	Roles  []roleView
	Role   *roleView
	Form   requestForm
	Errors map[string]string // a form field → what is wrong and what to do
	Live   []api.Request     // live grants
	Open   []api.Request     // pending requests
	Past   []api.Request     // ended recently
	Grant  *grantView        // the request page's live part
}

// roleView is one role as the app shows it to the signed-in person.
type roleView struct {
	Name, Description string
	Explanation       policy.Explanation
	API               api.Role
	// Explained is `jit server explain`'s text for this person and role,
	// word for word: why they may not request it, or what happens if they do.
	Explained string
}

// requestForm is what the person typed, kept when the form comes back.
type requestForm struct {
	Reason, Ticket, Duration string
	BreakGlass               bool
}

// grantView is the request page's live part: re-rendered for every change
// and sent down the event stream.
type grantView struct {
	Request *api.Request
	CSRF    string
	Now     time.Time
	// Live: the grant is on; Left is what remains of it.
	Live bool
	Left time.Duration
	// EndsSoon: under ReminderBefore left ("ends in N min: extend?").
	EndsSoon    bool
	CanExtend   bool
	CanConsole  bool // an AWS role: the console button
	Pending     bool
	CLI         string // the command line that uses the grant
	Explanation policy.Explanation
}

var funcs = template.FuncMap{
	"human": api.FormatDuration,
	"when":  when,
	"minutes": func(d time.Duration) int {
		return int(math.Ceil(d.Minutes()))
	},
	"unix": func(t time.Time) int64 { return t.Unix() },
}

// base fills what every signed-in page shows.
func (h *Handler) base(_ *http.Request, title, section string, a grants.Actor, s *session, d pageData) pageData {
	d.Title, d.Section, d.Me, d.CSRF, d.Now = title, section, a.User, s.CSRF, h.opts.Now()
	d.SignedInUntil = time.Unix(s.Expires, 0)
	if h.fresh(s) {
		d.DecideUntil = time.Unix(s.AuthTime, 0).Add(h.opts.MaxLoginAge)
	}
	return d
}

func (h *Handler) render(w http.ResponseWriter, status int, name string, d any) {
	var buf bytes.Buffer
	if err := h.pages.ExecuteTemplate(&buf, name, d); err != nil {
		h.log.Error("render web page", "page", name, "err", err)
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
		link = AppPrefix
	}
	h.render(w, status, "message", pageData{Title: title, Text: text, Link: link})
}

func when(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }
