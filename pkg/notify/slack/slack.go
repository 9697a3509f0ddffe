// Package slack posts one message per access request to the role's Slack
// channel (else the default channel), updates it in place as the request is
// decided and ends, replies in its thread with reminders, and serves Slack's
// interactivity endpoint for the message's Approve/Deny buttons. A
// requester whose Slack account is linked (pkg/slacklink) also gets direct
// messages: the outcome of their request and, before the grant ends, a
// reminder with an Extend button; and the /jit slash command opens the
// request form for linked accounts.
package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/notify"
	"github.com/jit-access/jit/pkg/store"
)

// Action ids of the message's buttons; their value is the request id.
const (
	ActionApprove = "jit_approve"
	ActionDeny    = "jit_deny"
)

// DefaultAPIURL is Slack's Web API.
const DefaultAPIURL = "https://slack.com/api/"

// Options configure the Slack sink and its interactivity endpoint.
type Options struct {
	Store    store.Store
	BotToken string
	// SigningSecret verifies interactivity calls (X-Slack-Signature v0).
	SigningSecret string
	// TeamID is the workspace whose button presses count (team.id in the
	// payload); required with SigningSecret.
	TeamID string
	// Channel is the default channel; RoleChannel (from the policy in
	// force) may name a role's own.
	Channel     string
	RoleChannel func(role string) string
	// PublicURL is the server's address: the approver page is
	// PUBLIC_URL/approve/<id>.
	PublicURL string
	// APIURL is Slack's Web API base [DefaultAPIURL] (tests: a fake).
	APIURL string
	Client *http.Client
	Now    func() time.Time
	Logger *slog.Logger
	// ApproveByEmail (notify.slack.approve_in_slack_by_email) lets a
	// button press decide: the Slack user is mapped to an identity by
	// their confirmed email (users.info) and Decide applies the policy.
	// Off by default; see docs/webhooks.md for the risk.
	ApproveByEmail bool
	Decide         func(ctx context.Context, u api.User, id string, seen int64, approve bool, comment string) error
	// ResponseURLPrefix is where response_url may point
	// ["https://hooks.slack.com/"].
	ResponseURLPrefix string
	// Links, when set, serves the /jit slash command: linking Slack
	// accounts to jit logins and requests from linked accounts.
	Links Links
	// Requests makes requests from the form and extends grants from the
	// reminder's button (the grants service).
	Requests Requests
}

// Sink is the Slack notification sink.
type Sink struct {
	o      Options
	client *slackapi.Client
	// rotated holds the bot token's client and the signing secret once
	// SetSecrets rotated them (SIGHUP reload); nil until then.
	rotated atomic.Pointer[rotatedSecrets]
	// work counts what slash commands and modal submissions do after
	// their acknowledgement.
	work sync.WaitGroup
}

type rotatedSecrets struct {
	client        *slackapi.Client
	signingSecret string
}

// SetSecrets rotates the bot token and the signing secret; the next
// message and the next button press use them.
func (s *Sink) SetSecrets(botToken, signingSecret string) {
	if botToken == "" {
		return
	}
	c := slackapi.New(botToken, slackapi.OptionAPIURL(s.o.APIURL), slackapi.OptionHTTPClient(s.o.Client))
	s.rotated.Store(&rotatedSecrets{client: c, signingSecret: signingSecret})
}

// api is the Slack client with the current bot token.
func (s *Sink) api() *slackapi.Client {
	if r := s.rotated.Load(); r != nil {
		return r.client
	}
	return s.client
}

// signingSecret is the current signing secret.
func (s *Sink) signingSecret() string {
	if r := s.rotated.Load(); r != nil {
		return r.signingSecret
	}
	return s.o.SigningSecret
}

var _ notify.Sink = (*Sink)(nil)

// New checks the options.
func New(o Options) (*Sink, error) {
	if o.Store == nil || o.BotToken == "" || o.Client == nil || o.Now == nil {
		return nil, errors.New("slack: store, bot token, HTTP client and clock are required")
	}
	if o.Channel == "" && o.RoleChannel == nil {
		return nil, errors.New("slack: a channel is required")
	}
	if o.APIURL == "" {
		o.APIURL = DefaultAPIURL
	}
	if !strings.HasSuffix(o.APIURL, "/") {
		o.APIURL += "/"
	}
	if o.ResponseURLPrefix == "" {
		o.ResponseURLPrefix = "https://hooks.slack.com/"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SigningSecret != "" && o.TeamID == "" {
		return nil, errors.New("slack: interactivity (a signing secret) needs the workspace's team id")
	}
	if o.ApproveByEmail && o.Decide == nil {
		return nil, errors.New("slack: approve_in_slack_by_email needs a decider")
	}
	c := slackapi.New(o.BotToken, slackapi.OptionAPIURL(o.APIURL), slackapi.OptionHTTPClient(o.Client))
	return &Sink{o: o, client: c}, nil
}

// Name implements notify.Sink.
func (s *Sink) Name() string { return "slack" }

// Wants implements notify.Sink: the events of a request's life, and the
// reminders.
func (s *Sink) Wants(typ string) bool {
	switch typ {
	case audit.TypeRequestCreated, audit.TypeRequestApproval, audit.TypeRequestApproved, audit.TypeAutoApproved,
		audit.TypeBreakGlass, audit.TypeRequestDenied, audit.TypeCancelled, audit.TypeTimedOut, audit.TypeRevoked,
		audit.TypeExtended, audit.TypeExpired, notify.TypeGrantEndingSoon, notify.TypeRequestTimingOut,
		audit.TypeExtensionRequested, audit.TypeExtensionApproval, audit.TypeExtensionDenied:
		return true
	}
	return false
}

func (s *Sink) channel(role string) string {
	if s.o.RoleChannel != nil {
		if c := s.o.RoleChannel(role); c != "" {
			return c
		}
	}
	return s.o.Channel
}

// Deliver implements notify.Sink: the request's message is posted once and
// then re-rendered from the request's current state (so a repeat delivery
// changes nothing); reminders go to its thread.
func (s *Sink) Deliver(ctx context.Context, e *api.AuditEvent, _ string) error {
	if e.RequestID == "" {
		return nil
	}
	r, err := s.o.Store.Get(ctx, e.RequestID)
	if errors.Is(err, store.ErrNotFound) {
		return notify.Permanent(err)
	}
	if err != nil {
		return err
	}
	ch, ts, err := s.o.Store.SlackMessage(ctx, r.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	posted := err == nil
	blocks := Blocks(r, s.o.PublicURL)
	switch {
	case !posted:
		ch, ts, err = s.api().PostMessageContext(ctx, s.channel(r.Role), slackapi.MsgOptionBlocks(blocks...),
			slackapi.MsgOptionText(Summary(r), false))
		if err != nil {
			return classify(err)
		}
		if err := s.o.Store.SetSlackMessage(ctx, r.ID, ch, ts); err != nil {
			return err
		}
	case e.Type != notify.TypeGrantEndingSoon && e.Type != notify.TypeRequestTimingOut:
		if _, _, _, err := s.api().UpdateMessageContext(ctx, ch, ts, slackapi.MsgOptionBlocks(blocks...),
			slackapi.MsgOptionText(Summary(r), false)); err != nil {
			return classify(err)
		}
	}
	if text := Reminder(e, r); text != "" {
		if _, _, err := s.api().PostMessageContext(ctx, ch, slackapi.MsgOptionTS(ts), slackapi.MsgOptionText(text, false)); err != nil {
			return classify(err)
		}
	}
	return s.tellRequester(ctx, e, r)
}

// classify maps Slack's errors onto the dispatcher's: rate limits wait as
// told, API refusals (channel_not_found, invalid_auth …) are permanent,
// anything else (network, 5xx) is retried.
func classify(err error) error {
	var rl *slackapi.RateLimitedError
	if errors.As(err, &rl) {
		return &notify.RetryAfterError{Err: err, After: rl.RetryAfter}
	}
	var se slackapi.SlackErrorResponse
	if errors.As(err, &se) {
		switch se.Err {
		case "internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited":
			return err
		}
		return notify.Permanent(fmt.Errorf("slack refused: %s", se.Err))
	}
	return err
}

// Summary is the message's plain-text fallback (notifications, screen readers).
func Summary(r *api.Request) string {
	return fmt.Sprintf("%s requests %s for %s: %s", r.Requester, r.Role, r.Duration(), stateText(r))
}

func stateText(r *api.Request) string {
	switch r.State {
	case api.StatePending:
		if len(r.Approvals) > 0 {
			return fmt.Sprintf("pending (%d of %d approvals)", len(r.Approvals), r.ApprovalsNeeded)
		}
		return "pending approval"
	case api.StateApproved, api.StateActive:
		if r.AutoApproved {
			return "auto-approved"
		}
		if r.BreakGlass && len(r.Approvals) == 0 {
			return "break-glass: self-activated"
		}
		return "approved by " + approvers(r)
	case api.StateDenied:
		if r.Denial != nil {
			return "denied by " + r.Denial.By
		}
		return "denied"
	case api.StateCancelled:
		return "cancelled by " + r.EndedBy
	case api.StateRevoked:
		return "revoked by " + r.EndedBy
	case api.StateTimedOut:
		return "timed out without a decision"
	case api.StateExpired:
		return "ended"
	}
	return string(r.State)
}

func approvers(r *api.Request) string {
	var by []string
	for _, a := range r.Approvals {
		by = append(by, a.By)
	}
	return strings.Join(by, ", ")
}

func text(s string) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.MarkdownType, s, false, false)
}

// escape keeps user text (reason, names) from becoming Slack markup.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// Blocks renders the request's message: who wants which role for how long
// and why, when the request expires, and either the Approve/Deny buttons
// (pending) or the outcome and who decided.
func Blocks(r *api.Request, publicURL string) []slackapi.Block {
	title := "Access request"
	if r.BreakGlass {
		title = ":rotating_light: Break-glass access"
	}
	reason := r.Reason
	if reason == "" {
		reason = "(none)"
	}
	requester := escape(r.Requester)
	if r.Agent != "" {
		// Made through jit mcp: say so, so nobody approves an agent's
		// request thinking the person asked.
		title = ":robot_face: " + title + " by an AI agent"
		requester += " (asked by agent " + escape(r.Agent) + " on their behalf)"
	}
	fields := []*slackapi.TextBlockObject{
		text("*Requester*\n" + requester),
		text("*Role*\n" + escape(r.Role)),
		text("*Duration*\n" + r.Duration().String()),
		text("*Request expires*\n" + slackDate(r.PendingUntil)),
		text("*Reason*\n" + escape(reason)),
	}
	if r.Ticket != "" {
		fields = append(fields, text("*Ticket*\n"+escape(r.Ticket)))
	}
	blocks := []slackapi.Block{
		slackapi.NewSectionBlock(text(fmt.Sprintf("*%s* `%s`", title, r.ID)), fields, nil),
	}
	if r.State == api.StatePending {
		approve := slackapi.NewButtonBlockElement(ActionApprove, ButtonValue(r), slackapi.NewTextBlockObject(slackapi.PlainTextType, "Approve", false, false))
		approve.Style = slackapi.StylePrimary
		deny := slackapi.NewButtonBlockElement(ActionDeny, ButtonValue(r), slackapi.NewTextBlockObject(slackapi.PlainTextType, "Deny", false, false))
		deny.Style = slackapi.StyleDanger
		elems := []slackapi.BlockElement{approve, deny}
		if link := notify.ApproveLink(publicURL, r.ID); link != "" {
			elems = append(elems, slackapi.NewButtonBlockElement("jit_open", r.ID, slackapi.NewTextBlockObject(slackapi.PlainTextType, "Open", false, false)).WithURL(link))
		}
		blocks = append(blocks, slackapi.NewActionBlock("jit_decide", elems...))
	}
	outcome := "*Status:* " + escape(stateText(r))
	if r.State.Granted() {
		outcome += " · grant ends " + slackDate(r.EndsAt)
		if x := r.PendingExtension; x != nil {
			outcome += fmt.Sprintf("\n:hourglass: Extension by %s waits for approval (%d of %d): %s. Approvers: `jit approve %s --seen %d` or `jit deny %s --seen %d --reason …`",
				x.Duration(), len(x.Approvals), x.ApprovalsNeeded, escape(x.Why), r.ID, r.Version, r.ID, r.Version)
		}
	}
	if r.Denial != nil && r.Denial.Comment != "" {
		outcome += "\n> " + escape(r.Denial.Comment)
	}
	if r.EndReason != "" {
		outcome += "\n> " + escape(r.EndReason)
	}
	blocks = append(blocks, slackapi.NewContextBlock("jit_status", text(outcome)))
	return blocks
}

// slackDate renders t in the reader's time zone, with a UTC fallback.
func slackDate(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format(time.RFC3339))
}

// Reminder is the thread reply for a reminder event ("" for others).
func Reminder(e *api.AuditEvent, r *api.Request) string {
	switch e.Type {
	case notify.TypeGrantEndingSoon:
		return fmt.Sprintf("%s: your %s grant ends %s. Need longer? `jit extend %s --for 30m --reason \"…\"`",
			escape(r.Requester), escape(r.Role), slackDate(r.EndsAt), r.ID)
	case notify.TypeRequestTimingOut:
		return fmt.Sprintf("Approvers: this request times out %s without a decision.", slackDate(r.PendingUntil))
	}
	return ""
}
