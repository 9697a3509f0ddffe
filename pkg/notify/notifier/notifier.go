// Package notifier assembles the server's notifications from its config:
// one dispatcher per webhook and for Slack, the reminder check, Slack's
// interactivity endpoint and notify's metrics.
package notifier

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/grants"
	"github.com/jit-access/jit/pkg/metrics"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/config"
	"github.com/jit-access/jit/pkg/notify"
	"github.com/jit-access/jit/pkg/notify/slack"
	"github.com/jit-access/jit/pkg/notify/webhook"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/store"
)

// Options are the notifier's dependencies.
type Options struct {
	Config    config.Notify
	PublicURL string
	Store     store.Store
	// Policy returns the policy in force (role channels).
	Policy func() *policy.Policy
	// Grants decides Slack's button presses (approve_in_slack_by_email)
	// through the same service as every other door.
	Grants Decisions
	// Links, when set, serves the /jit slash command (Slack account links
	// and requests from linked accounts).
	Links slack.Links
	// Requests makes requests from the /jit form and extends grants from
	// the reminder's button (the grants service).
	Requests slack.Requests
	// SlackAPIURL, when set, is Slack's Web API and the response_url
	// prefix (tests: internal/fakeslack) [Slack's].
	SlackAPIURL string
	Client      *http.Client
	Now         func() time.Time
	Logger      *slog.Logger
}

// Notifier runs every sink's dispatcher and the reminders.
type Notifier struct {
	dispatchers []*notify.Dispatcher
	reminder    *notify.Reminder
	slack       *slack.Sink
	metrics     *notify.Metrics
	// webhooks and urls are the webhook sinks in config order, for
	// UpdateSecrets.
	webhooks []*webhook.Sink
	urls     []string
}

// New builds the sinks the config names.
func New(o Options) (*Notifier, error) {
	n := &Notifier{metrics: notify.NewMetrics()}
	var sinks []notify.Sink
	for _, w := range o.Config.Webhooks {
		s, err := webhook.New(webhook.Options{URL: w.URL, Secret: []byte(w.Secret.Reveal()), Events: w.Events,
			Format: w.Format, PublicURL: o.PublicURL, Client: o.Client, Now: o.Now})
		if err != nil {
			return nil, err
		}
		sinks = append(sinks, s)
		n.webhooks = append(n.webhooks, s)
		n.urls = append(n.urls, w.URL)
	}
	if sc := o.Config.Slack; sc.Enabled() {
		s, err := slack.New(slack.Options{
			Store: o.Store, BotToken: sc.BotToken.Reveal(), SigningSecret: sc.SigningSecret.Reveal(), TeamID: sc.TeamID, Channel: sc.Channel,
			RoleChannel: func(role string) string {
				if r, ok := o.Policy().Role(role); ok {
					return r.SlackChannel
				}
				return ""
			},
			PublicURL: o.PublicURL, Client: o.Client, Now: o.Now, Logger: o.Logger,
			ApproveByEmail: sc.ApproveInSlackByEmail, Decide: Decider(o.Grants), Links: o.Links,
			Requests: o.Requests, APIURL: o.SlackAPIURL, ResponseURLPrefix: o.SlackAPIURL,
		})
		if err != nil {
			return nil, err
		}
		n.slack = s
		sinks = append(sinks, s)
	}
	for _, s := range sinks {
		d, err := notify.NewDispatcher(notify.DispatcherOptions{Store: o.Store, Sink: s, Now: o.Now, Logger: o.Logger, Metrics: n.metrics})
		if err != nil {
			return nil, err
		}
		n.dispatchers = append(n.dispatchers, d)
	}
	if len(sinks) > 0 {
		r, err := notify.NewReminder(notify.ReminderOptions{Store: o.Store, Now: o.Now, Before: o.Config.RemindBefore.D(), Logger: o.Logger})
		if err != nil {
			return nil, err
		}
		n.reminder = r
	}
	return n, nil
}

// Decisions is what Slack's buttons do: grants.Service's approve and deny,
// and its audit of a refusal (as the API and the approver page write it).
type Decisions interface {
	Approve(ctx context.Context, a grants.Actor, id string, seen int64, comment string) (*api.Request, error)
	Deny(ctx context.Context, a grants.Actor, id string, seen int64, comment string) (*api.Request, error)
	Refused(ctx context.Context, a grants.Actor, err error, where string)
}

// Decider approves or denies for a Slack user through the grants service:
// the same policy checks, extension handling and audit as the API (nil
// without a service).
func Decider(g Decisions) func(ctx context.Context, u api.User, id string, seen int64, approve bool, comment string) error {
	if g == nil {
		return nil
	}
	return func(ctx context.Context, u api.User, id string, seen int64, approve bool, comment string) error {
		a := grants.Actor{User: u, Via: grants.ViaSlack}
		var err error
		action := "approve"
		if approve {
			_, err = g.Approve(ctx, a, id, seen, comment)
		} else {
			action = "deny"
			_, err = g.Deny(ctx, a, id, seen, comment)
		}
		if err != nil {
			g.Refused(ctx, a, err, "slack:"+action+" "+id)
			if ae := grants.APIError(err); ae != nil {
				return ae // the person-facing message (a stale press: what waits now)
			}
		}
		return err
	}
}

// UpdateSecrets rotates the webhook secrets and Slack's bot token and
// signing secret to c's (a SIGHUP reload that re-read *_file secrets).
// Webhooks are matched by position and URL; it returns what changed beyond
// secrets, which takes a restart.
func (n *Notifier) UpdateSecrets(c config.Notify) (needRestart []string) {
	if len(c.Webhooks) != len(n.webhooks) {
		needRestart = append(needRestart, "notify.webhooks (added or removed)")
	}
	for i, s := range n.webhooks {
		if i >= len(c.Webhooks) || c.Webhooks[i].URL != n.urls[i] {
			needRestart = append(needRestart, fmt.Sprintf("notify.webhooks[%d].url", i))
			continue
		}
		s.SetSecret([]byte(c.Webhooks[i].Secret.Reveal()))
	}
	switch {
	case n.slack != nil && c.Slack.Enabled():
		n.slack.SetSecrets(c.Slack.BotToken.Reveal(), c.Slack.SigningSecret.Reveal())
	case (n.slack != nil) != c.Slack.Enabled():
		needRestart = append(needRestart, "notify.slack")
	}
	return needRestart
}

// Nudge wakes the dispatchers (server.Options.Events).
func (n *Notifier) Nudge(e audit.Event) {
	if !notify.Outbound(e.Type) {
		return
	}
	for _, d := range n.dispatchers {
		d.Nudge()
	}
}

// Register mounts Slack's interactivity endpoint when Slack has a signing
// secret (server.Options.Routes).
func (n *Notifier) Register(mux *http.ServeMux) {
	if n.slack != nil {
		n.slack.Register(mux)
	}
}

// Metrics is the delivery counters' registry; the server serves it with its
// own at /metrics (server.Options.Metrics).
func (n *Notifier) Metrics() *metrics.Registry { return n.metrics.Registry }

// Run runs everything until ctx ends.
func (n *Notifier) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, d := range n.dispatchers {
		wg.Go(func() { _ = d.Run(ctx) })
	}
	if n.reminder != nil {
		wg.Go(func() { _ = n.reminder.Run(ctx) })
	}
	wg.Wait()
	if n.slack != nil {
		n.slack.Wait() // what slash commands and forms do after their answer
	}
}
