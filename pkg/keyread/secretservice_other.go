//go:build !linux

package keyread

import "fmt"

type secretService struct{}

func openSecretService() (*secretService, error) {
	return nil, fmt.Errorf("%w: secret service is read by the full jit here", ErrNotSlim)
}

func (*secretService) get(string) ([]byte, bool, error) { return nil, false, ErrNotSlim }

// pickDefault: the OS default elsewhere (Keychain, Credential Manager) is
// read by the full jit.
func pickDefault(func(string) string) (string, *secretService, error) {
	return "", nil, fmt.Errorf("%w: the OS default keyring", ErrNotSlim)
}
