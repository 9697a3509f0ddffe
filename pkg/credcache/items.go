package credcache

import (
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/cacheitem"
)

// The item format lives in pkg/cacheitem, which the slim credential path
// reads without linking the keyring library; these are its names here.
const (
	keyPrefix   = cacheitem.KeyPrefix
	credsPrefix = cacheitem.CredsPrefix
)

// ErrBadRole reports a role name that cannot be part of a cache key.
var ErrBadRole = cacheitem.ErrBadRole

// ErrBadItem reports a cache item that cannot be decoded or does not belong
// under its key. Such items are deleted on touch.
var ErrBadItem = cacheitem.ErrBadItem

// Tokens are the OIDC tokens from `jit login` (cacheitem.Tokens).
type Tokens = cacheitem.Tokens

// ServerHash names a server in keys (cacheitem.ServerHash).
func ServerHash(server string) string { return cacheitem.ServerHash(server) }

// CredentialsKey is the keyring key of the credentials for (server, role).
func CredentialsKey(server, role string) (string, error) {
	return cacheitem.CredentialsKey(server, role)
}

// TokensKey is the keyring key of the OIDC tokens for server.
func TokensKey(server string) string { return cacheitem.TokensKey(server) }

func encodeCredentials(server, role string, c api.Credentials) ([]byte, error) {
	return cacheitem.EncodeCredentials(server, role, c)
}

func decodeCredentials(data []byte, server, role string) (api.Credentials, error) {
	return cacheitem.DecodeCredentials(data, server, role)
}

func encodeTokens(server string, t Tokens) ([]byte, error) { return cacheitem.EncodeTokens(server, t) }

func decodeTokens(data []byte, server string) (Tokens, error) {
	return cacheitem.DecodeTokens(data, server)
}
