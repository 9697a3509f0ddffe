package slack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/grants"
	"github.com/jit-access/jit/pkg/notify"
)

// InteractivityPath is where Slack's interactivity requests are served.
const InteractivityPath = "/slack/interactivity"

// Window is how far a call's X-Slack-Request-Timestamp may be from now.
const Window = 5 * time.Minute

// Register mounts the interactivity endpoint (server.Options.Routes).
// Without a signing secret nothing is mounted: calls cannot be verified.
func (s *Sink) Register(mux *http.ServeMux) {
	if s.signingSecret() == "" {
		return
	}
	mux.HandleFunc("POST "+InteractivityPath, s.handleInteractivity)
	if s.o.Links != nil {
		mux.HandleFunc("POST "+CommandsPath, s.handleCommand)
	}
}

var requestID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// handleInteractivity answers a button press. It refuses calls that are not
// signed with the signing secret, are outside the 5-minute window, repeat a
// (timestamp, body) already seen by any replica, or come from another
// workspace than TeamID. By default a press decides nothing: the presser
// gets a link to the approver page, where they sign in at the IdP.
func (s *Sink) handleInteractivity(w http.ResponseWriter, r *http.Request) {
	body, ok := s.verified(w, r)
	if !ok {
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	var cb slackapi.InteractionCallback
	if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
		http.Error(w, "bad payload", http.StatusBadRequest)
		return
	}
	// A signing secret is per app, and an app may be installed in several
	// workspaces: only presses from the configured one count.
	if !s.ourTeam(w, cb.Team.ID) {
		return
	}
	if cb.Type == slackapi.InteractionTypeViewSubmission {
		s.handleSubmission(w, r, &cb)
		return
	}
	var act *slackapi.BlockAction
	for _, a := range cb.ActionCallback.BlockActions {
		if a.ActionID == ActionExtend && requestID.MatchString(a.Value) {
			msg := s.extend(r.Context(), &cb, a.Value)
			if cb.ResponseURL != "" && strings.HasPrefix(cb.ResponseURL, s.o.ResponseURLPrefix) {
				s.respond(context.WithoutCancel(r.Context()), cb.ResponseURL, msg)
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(msg)
			return
		}
		if a.ActionID == ActionApprove || a.ActionID == ActionDeny {
			act = a
			break
		}
	}
	if act == nil || !requestID.MatchString(buttonID(act.Value)) {
		w.WriteHeader(http.StatusOK) // e.g. the "Open" link button: nothing to do
		return
	}
	msg := s.answer(r.Context(), &cb, act)
	if cb.ResponseURL != "" && strings.HasPrefix(cb.ResponseURL, s.o.ResponseURLPrefix) {
		s.respond(context.WithoutCancel(r.Context()), cb.ResponseURL, msg)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(msg)
}

// authentic checks that a press comes from Slack: a timestamp within Window
// of now and a valid signature of it and body under the signing secret. It
// returns the timestamp, or answers w with the refusal and reports false.
func (s *Sink) authentic(w http.ResponseWriter, r *http.Request, body []byte, now time.Time) (ts int64, ok bool) {
	ts, err := strconv.ParseInt(r.Header.Get("X-Slack-Request-Timestamp"), 10, 64)
	if err != nil || now.Sub(time.Unix(ts, 0)).Abs() > Window {
		s.o.Logger.Warn("slack interactivity refused: stale or missing timestamp")
		http.Error(w, "stale request", http.StatusUnauthorized)
		return 0, false
	}
	secret := s.signingSecret()
	if secret == "" {
		// A reload removed the signing secret: an HMAC with an empty key
		// would be forgeable, so nothing is verified against it.
		s.o.Logger.Warn("slack interactivity refused: no signing secret configured")
		http.Error(w, "interactivity is not configured", http.StatusUnauthorized)
		return 0, false
	}
	sv, err := slackapi.NewSecretsVerifier(r.Header, secret)
	if err == nil {
		_, _ = sv.Write(body)
		err = sv.Ensure()
	}
	if err != nil {
		s.o.Logger.Warn("slack interactivity refused: bad signature")
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return 0, false
	}
	return ts, true
}

// Answer is the ephemeral reply to the presser (also the HTTP body).
type Answer struct {
	ResponseType    string `json:"response_type"`
	ReplaceOriginal bool   `json:"replace_original"`
	Text            string `json:"text"`
}

func (s *Sink) answer(ctx context.Context, cb *slackapi.InteractionCallback, act *slackapi.BlockAction) Answer {
	id, seen := ParseButtonValue(act.Value)
	link := notify.ApproveLink(s.o.PublicURL, id)
	open := "Review and decide on the approver page: <" + link + "|" + id + ">"
	if link == "" {
		open = "Decide with `jit approve " + id + "` or `jit deny " + id + " --reason …` (the server has no public_url for a web page)."
	}
	ans := Answer{ResponseType: "ephemeral", Text: open}
	if !s.o.ApproveByEmail {
		return ans
	}
	u, err := s.identity(ctx, cb.User.ID)
	if err != nil {
		s.o.Logger.Warn("slack: no verified identity for a button press", "slack_user", cb.User.ID, "err", err)
		ans.Text = "jit could not map your Slack account to a verified email. " + open
		return ans
	}
	approve := act.ActionID == ActionApprove
	comment := "via Slack"
	if !approve {
		comment = "denied via Slack"
	}
	if err := s.o.Decide(ctx, u, id, seen, approve, comment); err != nil {
		// The person sees what grants.APIError says of it; an internal
		// error's detail (a database's message, a path) stays in the log.
		if grants.APIError(err) == nil {
			s.o.Logger.Error("slack: decision failed", "slack_user", cb.User.ID, "id", id, "err", err)
		}
		ans.Text = "jit could not record your decision: " + escape(userMessage(err)) + ". " + open
		return ans
	}
	verb := "approved"
	if !approve {
		verb = "denied"
	}
	ans.Text = "You " + verb + " " + id + " as " + u.ID() + "."
	return ans
}

// ButtonValue is what an Approve or Deny button carries: the request's id
// and the version the message showed ("ID@VERSION"), so that a press
// decides only what the message showed (grants.Service.Approve).
func ButtonValue(r *api.Request) string { return r.ID + "@" + strconv.FormatInt(r.Version, 10) }

// ParseButtonValue splits a button's value into the request id and the
// version it showed (0 on a button from before buttons carried one, which
// the grants service refuses with a hint).
func ParseButtonValue(v string) (id string, seen int64) {
	id, ver, ok := strings.Cut(v, "@")
	if !ok {
		return v, 0
	}
	seen, err := strconv.ParseInt(ver, 10, 64)
	if err != nil {
		return id, 0
	}
	return id, seen
}

func buttonID(v string) string { id, _ := ParseButtonValue(v); return id }

// SlackIssuer is the Issuer of identities taken from a Slack button press.
const SlackIssuer = api.SlackIssuer

func cbUserKey(slackUser string) string { return "slack-user:" + slackUser }

// identity maps a Slack user to the IdP identity with the same confirmed
// email. It carries no groups: only approvers the policy names by user can
// decide this way.
func (s *Sink) identity(ctx context.Context, slackUser string) (api.User, error) {
	info, err := s.api().GetUserInfoContext(ctx, slackUser)
	if err != nil {
		return api.User{}, err
	}
	if info.Deleted || info.IsBot || info.IsRestricted || info.Profile.Email == "" || !info.IsEmailConfirmed {
		return api.User{}, errors.New("no confirmed email")
	}
	email := api.LowerASCII(info.Profile.Email) // not strings.ToLower: it maps U+212A KELVIN SIGN to k (api.SameName)
	// Slack's confirmed email is the only identity a button press has: no
	// IdP principal. It is marked as Slack's (Issuer), matches policy users
	// by that email, and the decider refuses requests whose requester's
	// verified email is unknown (notifier.decider).
	return api.User{Issuer: SlackIssuer, Subject: cbUserKey(slackUser), Email: email, Username: email, Name: info.RealName}, nil
}

func (s *Sink) respond(ctx context.Context, responseURL string, a Answer) {
	b, _ := json.Marshal(a)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, responseURL, bytes.NewReader(b))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.o.Client.Do(req)
	if err != nil {
		s.o.Logger.Warn("slack: response_url failed", "err", errors.Unwrap(err))
		return
	}
	resp.Body.Close()
}

// ReplayKey is the one-time key of an interactivity call: its timestamp and
// the SHA-256 of its body, which is exactly what the signature covers.
func ReplayKey(ts int64, body []byte) string {
	sum := sha256.Sum256(body)
	return "slack:" + strconv.FormatInt(ts, 10) + ":" + hex.EncodeToString(sum[:])
}
