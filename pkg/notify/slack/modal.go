package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/grants"
	"github.com/jit-access/jit/pkg/policy"
)

// Requests is what a request from Slack asks of the grants service: the
// policy in force (the roles the form lists, the checks it shows next to
// its fields), creating the request, extending a grant, and the audit of a
// refusal — the same calls the API makes, with Actor{Via: "slack"}.
type Requests interface {
	Policy() *policy.Policy
	Create(ctx context.Context, a grants.Actor, in api.CreateRequest) (*api.Request, error)
	Extend(ctx context.Context, a grants.Actor, id string, by time.Duration, reason string) (*api.Request, bool, error)
	Refused(ctx context.Context, a grants.Actor, err error, where string)
}

var _ Requests = (*grants.Service)(nil)

// The request form's callback and block ids (a validation error names the
// block it belongs to).
const (
	RequestCallback = "jit_request"
	BlockRole       = "role"
	BlockDuration   = "duration"
	BlockReason     = "reason"
	BlockTicket     = "ticket"
	// actionValue is the action id of each block's one element.
	actionValue = "value"
)

// maxOptions is how many roles a Slack select lists.
const maxOptions = 100

func plain(s string) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.PlainTextType, s, false, false)
}

// RequestForm is the modal for a linked principal u: the roles u may
// request under p — the list `jit roles` shows — with their limits, the
// duration, the reason and, when one of them asks for it, the ticket.
func RequestForm(p *policy.Policy, u api.User) (slackapi.ModalViewRequest, bool) {
	roles := p.Eligible(u)
	if len(roles) == 0 {
		return slackapi.ModalViewRequest{}, false
	}
	var opts []*slackapi.OptionBlockObject
	var tickets []string
	reasons := false
	for i, r := range roles {
		if i == maxOptions {
			break
		}
		ar := p.APIRole(r, u)
		desc := "up to " + api.FormatDuration(time.Duration(ar.MaxDuration)*time.Second)
		switch {
		case ar.AutoApproved:
			desc += ", approved at once"
		case ar.ApprovalsRequired > 1:
			desc += fmt.Sprintf(", %d approvals", ar.ApprovalsRequired)
		default:
			desc += ", 1 approval"
		}
		o := slackapi.NewOptionBlockObject(r.Name, plain(r.Name), plain(cut(desc, 75)))
		opts = append(opts, o)
		if ar.TicketRequired {
			tickets = append(tickets, r.Name)
		}
		reasons = reasons || ar.ReasonRequired
	}
	role := slackapi.NewInputBlock(BlockRole, plain("Role"), nil,
		slackapi.NewOptionsSelectBlockElement(slackapi.OptTypeStatic, plain("Choose a role"), actionValue, opts...))
	dur := slackapi.NewPlainTextInputBlockElement(plain("e.g. 30m or 2h; empty: the role's default"), actionValue)
	duration := slackapi.NewInputBlock(BlockDuration, plain("Duration"), nil, dur)
	duration.Optional = true
	reasonIn := slackapi.NewPlainTextInputBlockElement(plain("What you will do, and why"), actionValue)
	reasonIn.Multiline = true
	reasonHint := ""
	if reasons {
		reasonHint = "Some roles need a reason; approvers read it."
	}
	reason := slackapi.NewInputBlock(BlockReason, plain("Reason"), hintText(reasonHint), reasonIn)
	reason.Optional = true
	blocks := []slackapi.Block{role, duration, reason}
	if len(tickets) > 0 {
		t := slackapi.NewInputBlock(BlockTicket, plain("Ticket"), hintText("Needed for "+strings.Join(tickets, ", ")),
			slackapi.NewPlainTextInputBlockElement(plain("e.g. INC-1234"), actionValue))
		t.Optional = true
		blocks = append(blocks, t)
	}
	return slackapi.ModalViewRequest{
		Type: slackapi.VTModal, CallbackID: RequestCallback,
		Title: plain("Request access"), Submit: plain("Request"), Close: plain("Cancel"),
		Blocks: slackapi.Blocks{BlockSet: blocks},
	}, true
}

func hintText(s string) *slackapi.TextBlockObject {
	if s == "" {
		return nil
	}
	return plain(s)
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// openRequest opens the request form for a linked account with the
// call's trigger_id (it is valid for 3 s, so this runs first); an
// unlinked one is told how to link.
func (s *Sink) openRequest(ctx context.Context, c command) string {
	l, why := s.linked(ctx, c)
	if why != "" {
		return why
	}
	if s.o.Requests == nil {
		return "This jit server does not take requests from Slack; use `jit request` in a terminal."
	}
	view, ok := RequestForm(s.o.Requests.Policy(), l.User)
	if !ok {
		return fmt.Sprintf("As %s you may request no role (`jit roles` shows the same). Ask the policy's owner to make you eligible.", escape(l.User.ID()))
	}
	if _, err := s.api().OpenViewContext(ctx, c.TriggerID, view); err != nil {
		s.o.Logger.Warn("slack: views.open failed", "slack_user", c.UserID, "err", err)
		return "Slack did not open the request form (" + slackReason(err) + "); type `" + c.Command + "` again."
	}
	return ""
}

// slackReason is Slack's error code, never a transport detail.
func slackReason(err error) string {
	var se slackapi.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return "Slack did not answer"
}

// formValue reads one block's value from a submitted view.
func formValue(v slackapi.View, block string) string {
	if v.State == nil {
		return ""
	}
	a, ok := v.State.Values[block][actionValue]
	if !ok {
		return ""
	}
	if a.SelectedOption.Value != "" {
		return a.SelectedOption.Value
	}
	return strings.TrimSpace(a.Value)
}

// ViewResponse answers a view_submission: nothing (close the form) or the
// errors to show next to their fields (response_action: errors).
type ViewResponse struct {
	ResponseAction string            `json:"response_action,omitempty"`
	Errors         map[string]string `json:"errors,omitempty"`
}

// handleSubmission answers the request form's submission: a field the
// policy refuses is shown next to it at once (response_action: errors);
// otherwise the form closes and the request is made afterwards, as the
// linked principal, through the grants service, and its outcome is sent
// to the requester alone (a direct message).
func (s *Sink) handleSubmission(w http.ResponseWriter, r *http.Request, cb *slackapi.InteractionCallback) {
	if cb.View.CallbackID != RequestCallback || s.o.Links == nil || s.o.Requests == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	answer := func(v ViewResponse) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	fieldErr := func(block, msg string) {
		answer(ViewResponse{ResponseAction: "errors", Errors: map[string]string{block: cut(msg, 150)}})
	}
	c := command{TeamID: cb.Team.ID, UserID: cb.User.ID, Command: "/jit"}
	l, why := s.linked(r.Context(), c)
	if why != "" {
		fieldErr(BlockRole, strings.ReplaceAll(why, "`", ""))
		return
	}
	in := api.CreateRequest{Role: formValue(cb.View, BlockRole), Reason: formValue(cb.View, BlockReason), Ticket: formValue(cb.View, BlockTicket)}
	if d := formValue(cb.View, BlockDuration); d != "" {
		dd, err := time.ParseDuration(strings.ReplaceAll(d, " ", ""))
		if err != nil || dd <= 0 {
			fieldErr(BlockDuration, fmt.Sprintf("%q is not a duration: write it like 30m, 1h or 1h30m", d))
			return
		}
		in.DurationSeconds = int64(dd / time.Second)
	}
	actor := grants.Actor{User: l.User, Via: grants.ViaSlack}
	// The policy's checks are pure: run them now so a refusal shows next to
	// its field; Create runs them again (with the rate limit and the store).
	if _, _, err := s.o.Requests.Policy().CheckRequest(l.User, in); err != nil {
		s.o.Requests.Refused(r.Context(), actor, err, "slack:request "+in.Role)
		var invalid *policy.InvalidError
		if errors.As(err, &invalid) {
			// The form had the ticket field: the role asking for one is
			// eligible, so it was listed with it. The CLI's hint (a flag)
			// means nothing here.
			block := map[string]string{"duration": BlockDuration, "reason": BlockReason, "ticket": BlockTicket}[invalid.Field]
			if block == "" {
				block = BlockRole
			}
			fieldErr(block, invalid.Reason)
			return
		}
		fieldErr(BlockRole, userMessage(err))
		return
	}
	s.async(r.Context(), func(ctx context.Context) {
		req, err := s.o.Requests.Create(ctx, actor, in)
		if err != nil {
			s.o.Requests.Refused(ctx, actor, err, "slack:request "+in.Role)
			s.o.Logger.Warn("slack: request refused", "slack_user", c.UserID, "role", in.Role, "err", err)
			s.dm(ctx, c.UserID, "jit could not make your request for "+escape(in.Role)+": "+escape(userMessage(err)))
			return
		}
		s.dm(ctx, c.UserID, Made(req))
	})
	w.WriteHeader(http.StatusOK) // an empty answer closes the form
}

// Made is what the requester is told once a request from Slack is stored.
func Made(r *api.Request) string {
	head := fmt.Sprintf("Your request `%s` for *%s* (%s)", r.ID, escape(r.Role), r.Duration())
	if r.State.Granted() {
		return head + " is approved: the grant ends " + slackDate(r.EndsAt) + ".\n" + useText(r)
	}
	return head + fmt.Sprintf(" waits for %d approval(s). You will hear here when it is decided; `jit wait %s` waits in a terminal.", r.ApprovalsNeeded, r.ID)
}

// useText says how to use a grant from the CLI, where the credentials go.
func useText(r *api.Request) string {
	return fmt.Sprintf("Use it in a terminal, logged in as yourself: `jit exec %s -- aws sts get-caller-identity`, or `jit wait %s` to cache its credentials.", escape(r.Role), r.ID)
}

// userMessage is the person-facing text of an error from the grants
// service (grants.APIError); an internal error's detail stays in the log.
func userMessage(err error) string {
	if e := grants.APIError(err); e != nil {
		if e.Hint != "" {
			return e.Message + ". Try: " + e.Hint
		}
		return e.Message
	}
	return "an internal error (the server's log has the detail); try again in a minute"
}

// dm sends a direct message to a Slack user (the app's DM with them).
func (s *Sink) dm(ctx context.Context, slackUser, text string, blocks ...slackapi.Block) {
	opts := []slackapi.MsgOption{slackapi.MsgOptionText(text, false)}
	if len(blocks) > 0 {
		opts = append(opts, slackapi.MsgOptionBlocks(blocks...))
	}
	if _, _, err := s.api().PostMessageContext(ctx, slackUser, opts...); err != nil {
		s.o.Logger.Warn("slack: direct message failed", "slack_user", slackUser, "err", err)
	}
}
