package devidp

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// userStore serves the configured users to zitadel's example storage.
type userStore struct {
	byID map[string]*storage.User
}

func newUserStore(users []User) userStore {
	s := userStore{byID: make(map[string]*storage.User, len(users))}
	for _, u := range users {
		first, last := splitName(u.Name)
		s.byID[u.ID] = &storage.User{
			ID:                u.ID,
			Username:          u.Username,
			Password:          u.Password,
			FirstName:         first,
			LastName:          last,
			Email:             u.Email,
			EmailVerified:     u.Email != "",
			PreferredLanguage: language.English,
		}
	}
	return s
}

func (s userStore) GetUserByID(id string) *storage.User { return s.byID[id] }

func (s userStore) GetUserByUsername(username string) *storage.User {
	for _, u := range s.byID {
		if u.Username == username {
			return u
		}
	}
	return nil
}

// ExampleClientID names the example storage's JWT-profile service user; no
// key is ever accepted for it (see GetKeyByIDAndClientID).
func (s userStore) ExampleClientID() string { return "devidp-no-service-user" }

// errDisabled refuses the grants of the example storage that jit has no use
// for (client credentials with a built-in secret, JWT profile with a
// published key).
var errDisabled = errors.New("grant disabled in devidp")

// deviceStorage wraps zitadel's example storage: it serves the public
// device client, puts the user's name and groups into the claims, keeps the
// device flow's subject the user's ID, and returns copies of device states so
// the token endpoint never reads what the sign-in page is writing.
type deviceStorage struct {
	*storage.Storage
	client          *publicClient
	users           map[string]User // by ID
	accessLifetime  time.Duration
	deviceMu        sync.Mutex
	redeemedDevices map[string]bool // device codes already exchanged for tokens
	others          map[string]*publicClient
	extraAudiences  map[string][]string // client id → audiences added to its tokens
	rot             rotation            // keys added by Provider.RotateKey
}

func newDeviceStorage(users []User, opts Options) *deviceStorage {
	// The example storage checks that a device client is registered before
	// it stores a device authorization; the client op sees is publicClient.
	clients := map[string]*storage.Client{opts.ClientID: storage.DeviceClient(opts.ClientID, "")}
	others := map[string]*publicClient{}
	if opts.OtherClientID != "" {
		clients[opts.OtherClientID] = storage.DeviceClient(opts.OtherClientID, "")
		others[opts.OtherClientID] = &publicClient{id: opts.OtherClientID, idTokenLifetime: opts.IDTokenLifetime, clockSkew: opts.IDTokenClockSkew}
	}
	byID := make(map[string]User, len(users))
	for _, u := range users {
		byID[u.ID] = u
	}
	return &deviceStorage{
		Storage:         storage.NewStorageWithClients(newUserStore(users), clients),
		client:          &publicClient{id: opts.ClientID, idTokenLifetime: opts.IDTokenLifetime, redirectURIs: slices.Clone(opts.RedirectURIs), clockSkew: opts.IDTokenClockSkew},
		others:          others,
		extraAudiences:  opts.ExtraAudiences,
		users:           byID,
		accessLifetime:  opts.AccessTokenLifetime,
		redeemedDevices: map[string]bool{},
	}
}

func (s *deviceStorage) GetClientByClientID(_ context.Context, clientID string) (op.Client, error) {
	if c, ok := s.others[clientID]; ok {
		return c, nil
	}
	if clientID != s.client.id {
		return nil, errors.New("client not found")
	}
	return s.client, nil
}

// AuthorizeClientIDSecret refuses every secret: the only client is public.
func (s *deviceStorage) AuthorizeClientIDSecret(context.Context, string, string) error {
	return errors.New("client is public and has no secret: send client_id in the form")
}

func (s *deviceStorage) ClientCredentials(context.Context, string, string) (op.Client, error) {
	return nil, errDisabled
}

func (s *deviceStorage) ClientCredentialsTokenRequest(context.Context, string, []string) (op.TokenRequest, error) {
	return nil, errDisabled
}

func (s *deviceStorage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errDisabled
}

// CreateAccessToken sets the access token's lifetime to the configured one.
func (s *deviceStorage) CreateAccessToken(ctx context.Context, request op.TokenRequest) (string, time.Time, error) {
	id, _, err := s.Storage.CreateAccessToken(ctx, request)
	return id, time.Now().Add(s.accessLifetime), err
}

// CreateAccessAndRefreshTokens fixes the example storage for the device
// grant: it does not know the device state's client, so the refresh token
// would belong to no client and refreshing would fail. The device state is
// handed over as the refresh-token request type it understands.
func (s *deviceStorage) CreateAccessAndRefreshTokens(ctx context.Context, request op.TokenRequest, currentRefreshToken string) (string, string, time.Time, error) {
	if state, ok := request.(*op.DeviceAuthorizationState); ok && currentRefreshToken == "" {
		request = storage.RefreshTokenRequestFromBusiness(&storage.RefreshToken{
			AuthTime:      state.GetAuthTime(),
			AMR:           state.GetAMR(),
			Audience:      state.GetAudience(),
			UserID:        state.GetSubject(),
			ApplicationID: state.GetClientID(),
			Scopes:        state.GetScopes(),
		})
	}
	accessID, refresh, _, err := s.Storage.CreateAccessAndRefreshTokens(ctx, request, currentRefreshToken)
	return accessID, refresh, time.Now().Add(s.accessLifetime), err
}

// SetUserinfoFromRequest is the ID token's claim hook.
func (s *deviceStorage) SetUserinfoFromRequest(ctx context.Context, userinfo *oidc.UserInfo, token op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, userinfo, token, scopes); err != nil {
		return err
	}
	s.addClaims(userinfo, token.GetSubject(), scopes)
	return nil
}

// SetUserinfoFromToken is the userinfo endpoint's claim hook.
func (s *deviceStorage) SetUserinfoFromToken(ctx context.Context, userinfo *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, userinfo, tokenID, subject, origin); err != nil {
		return err
	}
	s.addClaims(userinfo, subject, []string{oidc.ScopeOpenID, oidc.ScopeProfile})
	return nil
}

func (s *deviceStorage) addClaims(userinfo *oidc.UserInfo, subject string, scopes []string) {
	u, ok := s.users[subject]
	if !ok {
		return
	}
	if slices.Contains(scopes, oidc.ScopeProfile) && u.Name != "" {
		userinfo.Name = u.Name
	}
	groups := u.Groups
	if groups == nil {
		groups = []string{}
	}
	userinfo.AppendClaims("groups", groups)
	// A user's own claims win. zitadel encodes its typed claims over the
	// extra ones, so a typed claim being replaced is cleared first.
	for k, v := range u.Claims {
		switch k {
		case "email":
			userinfo.Email = ""
		case "email_verified":
			userinfo.EmailVerified = false
		case "name":
			userinfo.Name = ""
		case "preferred_username":
			userinfo.PreferredUsername = ""
		}
		if v == nil {
			delete(userinfo.Claims, k)
			continue
		}
		userinfo.AppendClaims(k, v)
	}
}

// GetDeviceAuthorizatonState returns a copy of the state, taken under the
// lock the sign-in page writes under, and answers a device code only once.
func (s *deviceStorage) GetDeviceAuthorizatonState(ctx context.Context, clientID, deviceCode string) (*op.DeviceAuthorizationState, error) {
	s.deviceMu.Lock()
	defer s.deviceMu.Unlock()
	state, err := s.Storage.GetDeviceAuthorizatonState(ctx, clientID, deviceCode)
	if err != nil {
		return nil, err
	}
	if s.redeemedDevices[deviceCode] {
		return nil, errors.New("device code already redeemed")
	}
	if state.Done {
		s.redeemedDevices[deviceCode] = true
	}
	c := *state
	c.Audience = append(slices.Clone(state.Audience), s.extraAudiences[clientID]...)
	c.Scopes = slices.Clone(state.Scopes)
	c.AMR = slices.Clone(state.AMR)
	return &c, nil
}

// deviceState is a copy of the state behind a user code.
func (s *deviceStorage) deviceState(ctx context.Context, userCode string) (op.DeviceAuthorizationState, error) {
	s.deviceMu.Lock()
	defer s.deviceMu.Unlock()
	state, err := s.Storage.GetDeviceAuthorizationByUserCode(ctx, userCode)
	if err != nil {
		return op.DeviceAuthorizationState{}, err
	}
	return *state, nil
}

// errDeviceDecided means the user code was already allowed or denied.
var errDeviceDecided = errors.New("this code was already used")

// errDeviceExpired means the user code's device authorization has expired.
var errDeviceExpired = errors.New("this code has expired; start again on the device")

// decideDevice allows (for the user with that ID) or denies the device
// authorization behind userCode.
func (s *deviceStorage) decideDevice(ctx context.Context, userCode, userID string, allow bool, now time.Time) error {
	s.deviceMu.Lock()
	defer s.deviceMu.Unlock()
	state, err := s.Storage.GetDeviceAuthorizationByUserCode(ctx, userCode)
	if err != nil {
		return err
	}
	if state.Done || state.Denied {
		return errDeviceDecided
	}
	if now.After(state.Expires) {
		return errDeviceExpired
	}
	if !allow {
		return s.Storage.DenyDeviceAuthorization(ctx, userCode)
	}
	state.AuthTime = now
	state.AMR = []string{"pwd"}
	return s.Storage.CompleteDeviceAuthorization(ctx, userCode, userID)
}

// publicClient is the CLI's client: public (no secret), device grant and
// refresh tokens, claims asserted into the ID token. The server's approver
// page uses it too, with the authorization code grant and PKCE (zitadel
// requires a code_verifier from a client without authentication), so its ID
// tokens have the audience the API expects.
type publicClient struct {
	id              string
	idTokenLifetime time.Duration
	redirectURIs    []string
	clockSkew       time.Duration
}

var _ op.Client = (*publicClient)(nil)

func (c *publicClient) GetID() string                    { return c.id }
func (c *publicClient) RedirectURIs() []string           { return c.redirectURIs }
func (c *publicClient) PostLogoutRedirectURIs() []string { return nil }
func (c *publicClient) ApplicationType() op.ApplicationType {
	return op.ApplicationTypeNative
}
func (c *publicClient) AuthMethod() oidc.AuthMethod { return oidc.AuthMethodNone }
func (c *publicClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *publicClient) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeDeviceCode, oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}

// LoginURL is where /authorize sends the browser to sign in (code flow).
func (c *publicClient) LoginURL(authRequestID string) string {
	return loginPath + "?" + url.Values{"authRequestID": {authRequestID}}.Encode()
}

func (c *publicClient) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeBearer }
func (c *publicClient) IDTokenLifetime() time.Duration       { return c.idTokenLifetime }
func (c *publicClient) DevMode() bool                        { return false }
func (c *publicClient) IsScopeAllowed(string) bool           { return false }
func (c *publicClient) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *publicClient) ClockSkew() time.Duration             { return c.clockSkew }
func (c *publicClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}
func (c *publicClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}
