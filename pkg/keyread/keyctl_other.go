//go:build !linux

package keyread

import "fmt"

func keyctlGet(string, string) ([]byte, bool, error) {
	return nil, false, fmt.Errorf("%w: keyctl exists only on linux", ErrNotSlim)
}
