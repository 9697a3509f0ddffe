package webapp

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/lifecycle"
)

// This file is the request page's live stream: server-sent events fed by
// the hub the API's long-poll waits on (Options.Changes), so a watcher
// costs a goroutine and a channel and nobody polls the store. Each change
// sends the page's live part rendered by the same template as the page;
// app.js swaps it in. Without script the page works with a reload.

func (h *Handler) events(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s := h.session(r)
	if s == nil {
		http.Error(w, "sign in first", http.StatusUnauthorized)
		return
	}
	a, _, e := h.actor(r, s)
	if e != nil {
		http.Error(w, "sign in again", http.StatusUnauthorized)
		return
	}
	if h.opts.Changes == nil {
		http.Error(w, "no live updates on this server; reload the page", http.StatusServiceUnavailable)
		return
	}
	// The server's WriteTimeout is sized for a long-poll; a stream moves
	// its deadline on with every write instead (network time, not the
	// grant's clock).
	rc := http.NewResponseController(w)
	flush := func() bool {
		_ = rc.SetWriteDeadline(time.Now().Add(2 * keepAlive))
		return rc.Flush() == nil
	}
	// Watch before reading, so a change between the read and the wait is
	// not lost.
	changed, stop := h.opts.Changes.Watch(id)
	defer stop()
	req, ok := h.ownRequestQuiet(r, a, id)
	if !ok {
		http.Error(w, "no such request of yours", http.StatusNotFound)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream; charset=utf-8")
	hd.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	if !flush() {
		return
	}

	var buf bytes.Buffer
	send := func() bool {
		buf.Reset()
		if err := h.pages.ExecuteTemplate(&buf, "live", h.grantView(a.User, s, req)); err != nil {
			h.log.Error("render live part", "err", err)
			return false
		}
		fmt.Fprintf(w, "id: %d\nevent: request\n", req.Version)
		// A CR ends a line for EventSource as LF does: one in a comment or a
		// reason would cut the event and start one of its writer's making.
		// &#13; is the same character to the HTML the page swaps in.
		for line := range strings.SplitSeq(strings.ReplaceAll(buf.String(), "\r", "&#13;"), "\n") {
			fmt.Fprintf(w, "data: %s\n", line)
		}
		_, err := fmt.Fprint(w, "\n")
		return err == nil && flush()
	}
	if !send() {
		return
	}
	seen := req.Version
	keep := time.NewTicker(keepAlive)
	defer keep.Stop()
	// The time left is counted down by the page; a grant's end arrives as
	// a change when the sweeper marks it. The reminder ("ends in N min")
	// appears at its time without a change: wake then, too.
	var remind <-chan time.Time
	var timer *time.Timer
	arm := func() {
		remind = nil
		if timer != nil {
			timer.Stop()
		}
		if lifecycle.StateAt(req, h.opts.Now()).Granted() {
			if left := req.EndsAt.Sub(h.opts.Now()) - ReminderBefore; left > 0 {
				timer = time.NewTimer(left)
				remind = timer.C
			}
		}
	}
	arm()
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	// The stream lives no longer than the session it was opened with: past
	// the token's expiry it ends (at the next change or keep-alive), and
	// EventSource's reconnection gets the 401 of an ended sign-in.
	over := func() bool { return h.opts.Now().Unix() >= s.Expires }
	for {
		select {
		case <-changed:
			if over() {
				return
			}
			next, ok := h.ownRequestQuiet(r, a, id)
			if !ok {
				return
			}
			if next.Version <= seen {
				continue
			}
			req, seen = next, next.Version
			if !send() {
				return
			}
			arm()
		case <-remind:
			remind = nil
			if over() || !send() {
				return
			}
		case <-keep.C:
			if over() {
				return
			}
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || !flush() {
				return
			}
		case <-h.opts.Changes.Closed():
			fmt.Fprint(w, "retry: 2000\n\n")
			flush()
			return
		case <-r.Context().Done():
			return
		}
	}
}
