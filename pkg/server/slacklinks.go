package server

import (
	"context"

	"net/http"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/grants"
	"github.com/jit-access/jit/pkg/slacklink"
	"github.com/jit-access/jit/pkg/store"
)

// SlackLinks is what /v1/links/slack asks of the Slack account links
// (pkg/slacklink.Service).
type SlackLinks interface {
	Redeem(ctx context.Context, u api.User, code, via string) (store.SlackLink, error)
	UnlinkPrincipal(ctx context.Context, u api.User, via string) ([]store.SlackLink, error)
	Links(ctx context.Context, u api.User) ([]store.SlackLink, error)
	APILink(l store.SlackLink) api.SlackLink
}

var _ SlackLinks = (*slacklink.Service)(nil)

// noSlack answers when the server links no Slack accounts.
var noSlack = &api.Error{Code: api.CodeNotFound, Message: "this jit server does not take requests from Slack",
	Hint: "ask its operator to set notify.slack (bot_token, signing_secret, team_id); see docs/slack.md"}

func (s *Server) handleSlackLink(w http.ResponseWriter, r *http.Request, u api.User) {
	if s.opts.SlackLinks == nil {
		writeError(w, noSlack, http.StatusNotFound)
		return
	}
	var in api.SlackLinkBody
	if err := decode(r, &in); err != nil {
		s.fail(w, r, u, err)
		return
	}
	l, err := s.opts.SlackLinks.Redeem(r.Context(), u, in.Code, grants.ViaAPI)
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	writeJSON(w, http.StatusOK, api.SlackLinks{Links: []api.SlackLink{s.opts.SlackLinks.APILink(l)}})
}

func (s *Server) handleSlackLinks(w http.ResponseWriter, r *http.Request, u api.User) {
	if s.opts.SlackLinks == nil {
		writeError(w, noSlack, http.StatusNotFound)
		return
	}
	ls, err := s.opts.SlackLinks.Links(r.Context(), u)
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	out := api.SlackLinks{Links: []api.SlackLink{}}
	for _, l := range ls {
		out.Links = append(out.Links, s.opts.SlackLinks.APILink(l))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleSlackUnlink(w http.ResponseWriter, r *http.Request, u api.User) {
	if s.opts.SlackLinks == nil {
		writeError(w, noSlack, http.StatusNotFound)
		return
	}
	ls, err := s.opts.SlackLinks.UnlinkPrincipal(r.Context(), u, grants.ViaAPI)
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	out := api.SlackLinks{Links: []api.SlackLink{}, Removed: len(ls)}
	for _, l := range ls {
		out.Links = append(out.Links, s.opts.SlackLinks.APILink(l))
	}
	writeJSON(w, http.StatusOK, out)
}
