// Package console turns role credentials into an AWS console sign-in URL
// through the federation endpoint's getSigninToken (the URL is valid for
// 15 minutes).
package console

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/jit-access/jit/pkg/api"
)

// DefaultFederationURL is the commercial partition's endpoint.
const DefaultFederationURL = "https://signin.aws.amazon.com/federation"

// DefaultDestination is the console's home page.
const DefaultDestination = "https://console.aws.amazon.com/"

// Signer asks the federation endpoint for sign-in tokens.
type Signer struct {
	FederationURL string
	HTTPClient    *http.Client
	// Issuer names jit on the sign-in page's "sign out" link target.
	Issuer string
}

// SignInURL returns a one-time URL that opens the console as the role.
func (s *Signer) SignInURL(ctx context.Context, c api.Credentials, destination string) (string, error) {
	fed := s.FederationURL
	if fed == "" {
		fed = DefaultFederationURL
	}
	if destination == "" {
		destination = DefaultDestination
	}
	session, err := json.Marshal(map[string]string{
		"sessionId": c.AccessKeyID, "sessionKey": c.SecretAccessKey, "sessionToken": c.SessionToken,
	})
	if err != nil {
		return "", err
	}
	// No SessionDuration: AWS refuses it for role (AssumeRole) credentials;
	// the console session then lasts as long as the credentials.
	q := url.Values{"Action": {"getSigninToken"}, "Session": {string(session)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fed, strings.NewReader(q.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hc := s.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("ask %s for a sign-in token: %w", fed, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("federation endpoint answered HTTP %d (are these role credentials? the console needs AssumeRole credentials)", resp.StatusCode)
	}
	var out struct{ SigninToken string }
	if err := json.Unmarshal(body, &out); err != nil || out.SigninToken == "" {
		return "", fmt.Errorf("federation endpoint gave no SigninToken")
	}
	issuer := s.Issuer
	if issuer == "" {
		issuer = "jit"
	}
	login := url.Values{"Action": {"login"}, "Issuer": {issuer}, "Destination": {destination}, "SigninToken": {out.SigninToken}}
	return fed + "?" + login.Encode(), nil
}
