package identity

import (
	"testing"

	"github.com/jit-access/jit/pkg/api"
)

func TestASubjectShapedLikeAnEmailNeverOwnsThatPersonsOldRequests(t *testing.T) {
	old := &api.Request{Requester: "carol@example.com"} // stored before principals
	impostor := api.User{Issuer: "https://other.example", Subject: "carol@example.com"}
	carol := api.User{Issuer: "https://idp.example", Subject: "u-carol", Email: "carol@example.com"}
	if Requested(impostor, old) {
		t.Error("a token whose subject merely looks like carol's email owns her old request")
	}
	if !Requested(carol, old) {
		t.Error("carol's verified email does not match her old request")
	}
}

func TestSameVerifiedEmailIsTheRequesterForRefusals(t *testing.T) {
	r := &api.Request{RequesterIssuer: "https://idp.example", RequesterSubject: "u-bob", RequesterEmail: "bob@example.com"}
	second := api.User{Issuer: "https://other.example", Subject: "bob-2", Email: "Bob@Example.com"}
	if Requested(second, r) {
		t.Error("another principal is the requester")
	}
	if !MayHaveRequested(second, r) {
		t.Error("the same verified email on another account may approve bob's request")
	}
}

func TestSlackAndAnEmailLessTokenCannotBeToldApart(t *testing.T) {
	slackBob := api.Decision{Issuer: api.SlackIssuer, Subject: "slack-user:U1", Email: "bob@example.com"}
	emailLess := api.User{Issuer: "https://idp.example", Subject: "u-bob"}
	if !MayHaveDecided(emailLess, slackBob) {
		t.Error("an email-less token fills a second slot next to a Slack approval")
	}
	tokenBob := api.Decision{Issuer: "https://idp.example", Subject: "u-bob"}
	if !MayHaveDecided(api.User{Issuer: api.SlackIssuer, Subject: "slack-user:U1", Email: "bob@example.com"}, tokenBob) {
		t.Error("a Slack approval fills a second slot next to an email-less token's")
	}
	if MayHaveDecided(api.User{Issuer: "https://idp.example", Subject: "u-carol", Email: "carol@example.com"}, slackBob) {
		t.Error("carol is taken for bob")
	}
}

func TestLegacyNamesLeaveOutASubjectShapedLikeAnEmail(t *testing.T) {
	got := LegacyNames(api.User{Subject: "x@example.com", Email: "a@example.com"})
	if len(got) != 1 || got[0] != "a@example.com" {
		t.Fatalf("legacy names %v", got)
	}
}
