// Package apiclient is the CLI's HTTP client for the jit server's API
// (pkg/api under /v1). It knows nothing of keyrings or terminals: the caller
// supplies a token source and an *http.Client.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/secureurl"
)

// TokenFunc returns the ID token to send as the bearer.
type TokenFunc func(ctx context.Context) (string, error)

// Client talks to one jit server.
type Client struct {
	base  *url.URL
	http  *http.Client
	token TokenFunc
}

// New returns a client for the server at baseURL. token may be nil for the
// unauthenticated calls (Discovery, health).
func New(baseURL string, hc *http.Client, token TokenFunc) (*Client, error) {
	// Tokens go to this URL: https, or plain http only on loopback.
	u, err := secureurl.Check("jit server URL", strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, err
	}
	// …and so do redirects.
	return &Client{base: u, http: secureurl.Guard(hc, 30*time.Second), token: token}, nil
}

// URL is the server's base URL.
func (c *Client) URL() string { return c.base.String() }

// ServerError is a non-2xx answer from the server.
type ServerError struct {
	Status int
	Body   api.Error
}

func (e *ServerError) Error() string { return e.Body.Error() }

// Code is the server's error code (api.Code…).
func (e *ServerError) Code() string { return e.Body.Code }

// Hint is the server's advice, if any.
func (e *ServerError) Hint() string { return e.Body.Hint }

// UnreachableError means the server could not be reached at all.
type UnreachableError struct {
	URL string
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the jit server at %s: %v", e.URL, e.Err)
}
func (e *UnreachableError) Unwrap() error { return e.Err }

// IsCode reports whether err is a server error with the given api code.
func IsCode(err error, code string) bool {
	var se *ServerError
	return errors.As(err, &se) && se.Body.Code == code
}

func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any, auth bool) error {
	u := *c.base
	u.Path += path
	u.RawQuery = query.Encode()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth {
		if c.token == nil {
			return errors.New("not logged in")
		}
		tok, err := c.token(ctx)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &UnreachableError{URL: c.base.String(), Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read response from %s: %w", u.Path, err)
	}
	if resp.StatusCode/100 != 2 {
		se := &ServerError{Status: resp.StatusCode}
		if json.Unmarshal(data, &se.Body) != nil || se.Body.Message == "" {
			se.Body.Code = api.CodeInternal
			se.Body.Message = fmt.Sprintf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, strings.TrimSpace(string(data[:min(len(data), 200)])))
		}
		return se
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode response from %s: %w", path, err)
	}
	return nil
}

// Discovery fetches the login settings (no token needed).
func (c *Client) Discovery(ctx context.Context) (*api.Discovery, error) {
	var d api.Discovery
	return &d, c.do(ctx, http.MethodGet, "/v1/discovery", nil, nil, &d, false)
}

// WhoAmI returns the identity the server sees in the token.
func (c *Client) WhoAmI(ctx context.Context) (*api.User, error) {
	var u api.User
	return &u, c.do(ctx, http.MethodGet, "/v1/whoami", nil, nil, &u, true)
}

// Roles lists the roles the caller may request.
func (c *Client) Roles(ctx context.Context) ([]api.Role, error) {
	var out api.RolesResponse
	return out.Roles, c.do(ctx, http.MethodGet, "/v1/roles", nil, nil, &out, true)
}

// Create asks for a role.
func (c *Client) Create(ctx context.Context, in api.CreateRequest) (*api.Request, error) {
	var r api.Request
	return &r, c.do(ctx, http.MethodPost, "/v1/requests", nil, in, &r, true)
}

// Get returns one request.
func (c *Client) Get(ctx context.Context, id string) (*api.Request, error) {
	var r api.Request
	return &r, c.do(ctx, http.MethodGet, "/v1/requests/"+url.PathEscape(id), nil, nil, &r, true)
}

// WaitChange long-polls until the request's version passes seen or wait
// ends, and returns the request as it then is.
func (c *Client) WaitChange(ctx context.Context, id string, seen int64, wait time.Duration) (*api.Request, error) {
	var r api.Request
	q := url.Values{"wait": {wait.String()}, "version": {strconv.FormatInt(seen, 10)}}
	return &r, c.do(ctx, http.MethodGet, "/v1/requests/"+url.PathEscape(id), q, nil, &r, true)
}

// Wait follows a request until it leaves pending (or ctx ends), calling
// progress with each new version. It long-polls, so a decision arrives at
// once; a server restart (503) is retried after a short pause.
func (c *Client) Wait(ctx context.Context, r *api.Request, progress func(*api.Request)) (*api.Request, error) {
	const poll = 50 * time.Second
	for r.State == api.StatePending {
		next, err := c.WaitChange(ctx, r.ID, r.Version, poll)
		if err != nil {
			var ue *UnreachableError
			if IsCode(err, api.CodeUnavailable) || errors.As(err, &ue) {
				select {
				case <-ctx.Done():
					return r, ctx.Err()
				case <-time.After(time.Second):
				}
				continue
			}
			return r, err
		}
		if next.Version != r.Version && progress != nil {
			progress(next)
		}
		r = next
	}
	return r, nil
}

// ListScope picks which requests List returns.
type ListScope string

// The list scopes.
const (
	ScopeMine   ListScope = "mine"
	ScopeReview ListScope = "review"
	ScopeAll    ListScope = "all"
)

// List returns one page of requests.
func (c *Client) List(ctx context.Context, scope ListScope, states []api.State, cursor string, limit int) (*api.RequestList, error) {
	q := url.Values{"scope": {string(scope)}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if len(states) > 0 {
		s := make([]string, len(states))
		for i, st := range states {
			s[i] = string(st)
		}
		q.Set("state", strings.Join(s, ","))
	}
	var out api.RequestList
	return &out, c.do(ctx, http.MethodGet, "/v1/requests", q, nil, &out, true)
}

func (c *Client) action(ctx context.Context, id, verb string, body any) (*api.Request, error) {
	var r api.Request
	return &r, c.do(ctx, http.MethodPost, "/v1/requests/"+url.PathEscape(id)+"/"+verb, nil, body, &r, true)
}

// Approve approves a request.
func (c *Client) Approve(ctx context.Context, id string, seen int64, comment string) (*api.Request, error) {
	return c.action(ctx, id, "approve", api.DecisionBody{Comment: comment, Version: seen})
}

// Deny denies a request with a reason.
func (c *Client) Deny(ctx context.Context, id string, seen int64, reason string) (*api.Request, error) {
	return c.action(ctx, id, "deny", api.DecisionBody{Comment: reason, Version: seen})
}

// Cancel withdraws the caller's pending request.
func (c *Client) Cancel(ctx context.Context, id, reason string) (*api.Request, error) {
	return c.action(ctx, id, "cancel", api.DecisionBody{Comment: reason})
}

// Revoke ends a live grant.
func (c *Client) Revoke(ctx context.Context, id, reason string) (*api.Request, error) {
	return c.action(ctx, id, "revoke", api.DecisionBody{Comment: reason})
}

// Extend adds time to a live grant.
func (c *Client) Extend(ctx context.Context, id string, by time.Duration, reason string) (*api.Request, error) {
	return c.action(ctx, id, "extend", api.ExtendBody{DurationSeconds: int64(by / time.Second), Reason: reason})
}

// Credentials vends credentials for the caller's live grant.
func (c *Client) Credentials(ctx context.Context, id string) (*api.Credentials, error) {
	var cr api.Credentials
	return &cr, c.do(ctx, http.MethodPost, "/v1/requests/"+url.PathEscape(id)+"/credentials", nil, nil, &cr, true)
}

// Audit queries the audit log (admins).
func (c *Client) Audit(ctx context.Context, q url.Values) (*api.AuditList, error) {
	var out api.AuditList
	return &out, c.do(ctx, http.MethodGet, "/v1/audit", q, nil, &out, true)
}

// AuditExport streams the audit log as JSON lines into w (admins).
func (c *Client) AuditExport(ctx context.Context, q url.Values, w io.Writer) error {
	u := *c.base
	u.Path += "/v1/audit/export"
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	tok, err := c.token(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	hc := *c.http
	hc.Timeout = 0 // a long export streams
	resp, err := hc.Do(req)
	if err != nil {
		return &UnreachableError{URL: c.base.String(), Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		se := &ServerError{Status: resp.StatusCode}
		_ = json.NewDecoder(resp.Body).Decode(&se.Body)
		return se
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

// AuditKey fetches the audit checkpoints' verifier key (no token needed).
func (c *Client) AuditKey(ctx context.Context) (string, error) {
	var out api.AuditKey
	return out.VerifierKey, c.do(ctx, http.MethodGet, "/v1/audit/key", nil, nil, &out, false)
}

// AuditCheckpoint fetches the latest signed checkpoint and, when from > 0,
// the consistency proof from the tree of from records to it.
func (c *Client) AuditCheckpoint(ctx context.Context, from int64) (*api.AuditCheckpoint, error) {
	q := url.Values{}
	if from > 0 {
		q.Set("from", strconv.FormatInt(from, 10))
	}
	var out api.AuditCheckpoint
	return &out, c.do(ctx, http.MethodGet, "/v1/audit/checkpoint", q, nil, &out, true)
}

// AuditConsistency fetches the proof that the tree of from records is a
// prefix of the tree of size records.
func (c *Client) AuditConsistency(ctx context.Context, from, size int64) (*api.AuditProof, error) {
	q := url.Values{"from": {strconv.FormatInt(from, 10)}, "size": {strconv.FormatInt(size, 10)}}
	var out api.AuditProof
	return &out, c.do(ctx, http.MethodGet, "/v1/audit/proof/consistency", q, nil, &out, true)
}

// AuditInclusion fetches the proof that record seq is in the tree of size
// records.
func (c *Client) AuditInclusion(ctx context.Context, seq, size int64) (*api.AuditProof, error) {
	q := url.Values{"seq": {strconv.FormatInt(seq, 10)}, "size": {strconv.FormatInt(size, 10)}}
	var out api.AuditProof
	return &out, c.do(ctx, http.MethodGet, "/v1/audit/proof/inclusion", q, nil, &out, true)
}
