package slack

import (
	"context"
	"fmt"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/grants"
	"github.com/jit-access/jit/pkg/notify"
)

// ActionExtend is the reminder's Extend button; its value is the request id.
const ActionExtend = "jit_extend"

// ExtendBy is how much longer the reminder's Extend button asks for.
const ExtendBy = 30 * time.Minute

// tellRequester sends the requester of r, when a sign-in linked their
// Slack account in this workspace, a direct message about e: the decision
// on their request, the grant's end, and before it ends the reminder with
// an Extend button. People who never linked Slack get nothing here (the
// CLI's `jit status` shows the same).
func (s *Sink) tellRequester(ctx context.Context, e *api.AuditEvent, r *api.Request) error {
	if s.o.Links == nil || r.RequesterSubject == "" {
		return nil
	}
	text, blocks := requesterNote(e, r)
	if text == "" {
		return nil
	}
	links, err := s.o.Store.SlackLinksOf(ctx, r.RequesterIssuer, r.RequesterSubject)
	if err != nil {
		return err
	}
	for _, l := range links {
		if l.TeamID != s.o.TeamID {
			continue
		}
		opts := []slackapi.MsgOption{slackapi.MsgOptionText(text, false)}
		if len(blocks) > 0 {
			opts = append(opts, slackapi.MsgOptionBlocks(blocks...))
		}
		if _, _, err := s.api().PostMessageContext(ctx, l.UserID, opts...); err != nil {
			return classify(err)
		}
	}
	return nil
}

// requesterNote is the direct message to r's requester about e ("" for
// events they need not hear of: they made the request, or it is not
// theirs to act on).
func requesterNote(e *api.AuditEvent, r *api.Request) (string, []slackapi.Block) {
	ref := fmt.Sprintf("`%s` (*%s*)", r.ID, escape(r.Role))
	switch e.Type {
	case audit.TypeRequestApproved:
		return "Your request " + ref + " was approved by " + escape(approvers(r)) + ": the grant ends " + slackDate(r.EndsAt) + ".\n" + useText(r), nil
	case audit.TypeRequestDenied:
		t := "Your request " + ref + " was denied"
		if r.Denial != nil {
			t += " by " + escape(r.Denial.By)
			if r.Denial.Comment != "" {
				t += ": " + escape(r.Denial.Comment)
			}
		}
		return t + ".", nil
	case audit.TypeTimedOut:
		return "Your request " + ref + " timed out without a decision.", nil
	case audit.TypeRevoked:
		return "Your grant " + ref + " was revoked by " + escape(r.EndedBy) + ".", nil
	case audit.TypeExtended:
		return "Your grant " + ref + " was extended: it now ends " + slackDate(r.EndsAt) + ".", nil
	case audit.TypeExtensionDenied:
		return "The extension of your grant " + ref + " was denied; it still ends " + slackDate(r.EndsAt) + ".", nil
	case notify.TypeGrantEndingSoon:
		if !r.State.Granted() {
			return "", nil
		}
		t := fmt.Sprintf("Your grant %s ends %s. Extend it by %s?", ref, slackDate(r.EndsAt), api.FormatDuration(ExtendBy))
		btn := slackapi.NewButtonBlockElement(ActionExtend, r.ID, plain("Extend "+api.FormatDuration(ExtendBy)))
		btn.Style = slackapi.StylePrimary
		return t, []slackapi.Block{
			slackapi.NewSectionBlock(text(t), nil, nil),
			slackapi.NewActionBlock("jit_remind", btn),
			slackapi.NewContextBlock("jit_remind_cli", text(fmt.Sprintf("In a terminal: `jit extend %s --for 30m --reason \"…\"`", r.ID))),
		}
	}
	return "", nil
}

// extend answers the reminder's Extend button: the presser's linked
// principal asks the grants service to extend (only the requester may; a
// grant past its limits or needing approvers says so).
func (s *Sink) extend(ctx context.Context, cb *slackapi.InteractionCallback, id string) Answer {
	ans := Answer{ResponseType: "ephemeral"}
	if s.o.Links == nil || s.o.Requests == nil {
		ans.Text = "This jit server does not extend grants from Slack: `jit extend " + id + " --for 30m`."
		return ans
	}
	l, why := s.linked(ctx, command{TeamID: cb.Team.ID, UserID: cb.User.ID, Command: "/jit"})
	if why != "" {
		ans.Text = why
		return ans
	}
	a := grants.Actor{User: l.User, Via: grants.ViaSlack}
	req, waiting, err := s.o.Requests.Extend(ctx, a, id, ExtendBy, "extended from the Slack reminder")
	switch {
	case err != nil:
		s.o.Requests.Refused(ctx, a, err, "slack:extend "+id)
		s.o.Logger.Warn("slack: extend refused", "slack_user", cb.User.ID, "id", id, "err", err)
		ans.Text = "jit could not extend `" + id + "`: " + escape(userMessage(err))
	case waiting:
		ans.Text = fmt.Sprintf("Your extension of `%s` waits for %d approval(s); the grant still ends %s.", id,
			req.PendingExtension.ApprovalsNeeded, slackDate(req.EndsAt))
	default:
		ans.Text = fmt.Sprintf("Extended `%s`: it now ends %s.", id, slackDate(req.EndsAt))
	}
	return ans
}
