package apiclient

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

// Reviews lists the grants waiting for the caller's post-hoc review.
func (c *Client) Reviews(ctx context.Context) (*api.RequestList, error) {
	var out api.RequestList
	return &out, c.do(ctx, http.MethodGet, "/v1/reviews", nil, nil, &out, true)
}

// Timeline returns a request with its activity and audit events.
func (c *Client) Timeline(ctx context.Context, id string) (*api.Timeline, error) {
	var out api.Timeline
	return &out, c.do(ctx, http.MethodGet, "/v1/requests/"+url.PathEscape(id)+"/timeline", nil, nil, &out, true)
}

// Review records a verdict on a grant.
func (c *Client) Review(ctx context.Context, id string, verdict api.Verdict, note string) (*api.Request, error) {
	return c.action(ctx, id, "review", api.ReviewBody{Verdict: verdict, Note: note})
}

// Report returns the access report for [since, until] (admins).
func (c *Client) Report(ctx context.Context, since, until time.Time) (*api.Report, error) {
	q := url.Values{"since": {since.UTC().Format(time.RFC3339)}, "until": {until.UTC().Format(time.RFC3339)}}
	var out api.Report
	return &out, c.do(ctx, http.MethodGet, "/v1/report", q, nil, &out, true)
}

// LinkSlack redeems the one-time code `/jit link` showed in Slack, linking
// that Slack account to the caller's principal.
func (c *Client) LinkSlack(ctx context.Context, code string) (*api.SlackLinks, error) {
	var out api.SlackLinks
	return &out, c.do(ctx, http.MethodPost, "/v1/links/slack", nil, api.SlackLinkBody{Code: code}, &out, true)
}

// SlackLinks lists the Slack accounts linked to the caller's principal.
func (c *Client) SlackLinks(ctx context.Context) (*api.SlackLinks, error) {
	var out api.SlackLinks
	return &out, c.do(ctx, http.MethodGet, "/v1/links/slack", nil, nil, &out, true)
}

// UnlinkSlack removes every Slack account linked to the caller's principal.
func (c *Client) UnlinkSlack(ctx context.Context) (*api.SlackLinks, error) {
	var out api.SlackLinks
	return &out, c.do(ctx, http.MethodDelete, "/v1/links/slack", nil, nil, &out, true)
}
