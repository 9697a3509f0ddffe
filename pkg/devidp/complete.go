package devidp

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"
)

// ErrBadCredentials is returned by CompleteDevice when the provider refuses
// the username or password.
var ErrBadCredentials = errors.New("devidp: " + errBadCredentialsText)

// CompleteDevice plays the user's browser step of the device grant over
// plain HTTP with its own cookie jar: it opens verificationURIComplete, signs
// in as username with password, and allows (or denies) the device.
func (p *Provider) CompleteDevice(ctx context.Context, verificationURIComplete, username, password string, allow bool) error {
	start, err := url.Parse(verificationURIComplete)
	if err != nil {
		return fmt.Errorf("devidp: parse verification uri: %w", err)
	}
	base, err := url.Parse(p.issuer)
	if err != nil {
		return fmt.Errorf("devidp: parse issuer: %w", err)
	}
	if start.Scheme != base.Scheme || start.Host != base.Host || start.Path != devicePath {
		return fmt.Errorf("devidp: verification uri %q does not belong to %s", verificationURIComplete, p.issuer)
	}
	userCode := start.Query().Get("user_code")
	if userCode == "" {
		return errors.New("devidp: verification uri has no user_code")
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return fmt.Errorf("devidp: cookie jar: %w", err)
	}
	client := &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}

	if _, err := p.browse(ctx, client, http.MethodGet, start.String(), nil); err != nil {
		return fmt.Errorf("devidp: open verification page: %w", err)
	}
	status, err := p.browse(ctx, client, http.MethodPost, p.issuer+deviceLoginPath, url.Values{
		"user_code": {userCode}, "username": {username}, "password": {password},
	})
	if status == http.StatusUnauthorized {
		return fmt.Errorf("devidp: sign in as %q: %w", username, ErrBadCredentials)
	}
	if err != nil {
		return fmt.Errorf("devidp: sign in as %q: %w", username, err)
	}
	action := "denied"
	if allow {
		action = "allowed"
	}
	if _, err := p.browse(ctx, client, http.MethodPost, p.issuer+deviceConfirmPath, url.Values{"action": {action}}); err != nil {
		return fmt.Errorf("devidp: confirm device (%s): %w", action, err)
	}
	return nil
}

// browse sends one request and fails on anything but 200, quoting the
// page's error message.
func (p *Provider) browse(ctx context.Context, client *http.Client, method, target string, form url.Values) (int, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return 0, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("read page: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("%s: %s", resp.Status, pageError(string(page)))
	}
	return resp.StatusCode, nil
}

// pageError extracts the error paragraph of one of the device pages.
func pageError(page string) string {
	_, rest, ok := strings.Cut(page, `<p class="error">`)
	if !ok {
		return "no error message on the page"
	}
	msg, _, _ := strings.Cut(rest, "</p>")
	return html.UnescapeString(msg)
}
