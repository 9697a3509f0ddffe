package server

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/sqlite"
)

// FuzzActivityBodies feeds untrusted bytes to the MinIO and CloudTrail
// parsers: they never panic, every refusal is an *api.Error (a 400), and
// no call is attributed to a grant jit never vended.
func FuzzActivityBodies(f *testing.F) {
	for _, seed := range []string{
		`{"deploymentid":"d","requestID":"R","accessKey":"ASIAX","api":{"name":"GetObject","statusCode":200}}`,
		`[{"accessKey":"ASIAX"},{"accessKey":""}]`, "{}\n{}\n", `{"detail":{"eventID":"e","eventName":"GetObject","userIdentity":{"accessKeyId":"ASIAX"}}}`,
		`{"Records":[{"eventID":"e","eventName":"AssumeRole","requestParameters":{"tags":[{"key":"jit-request-id","value":"req_1"}]}}]}`,
		`[`, `null`, ``, `"x"`, `{"detail":null}`, `{"time":"not a time"}`,
	} {
		f.Add([]byte(seed))
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(f.TempDir(), "jit.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	pol, err := policy.Parse("p.yaml", []byte("roles:\n  - name: r\n    arn: arn:aws:iam::123456789012:role/r\n    eligible: {users: [a@x]}\n    approvers: {users: [b@x]}\n"))
	if err != nil {
		f.Fatal(err)
	}
	s, err := New(Options{Store: st, Policy: pol, Verifier: noVerifier{}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, parse := range []func(context.Context, []byte) ([]store.Call, int, int, error){s.parseMinIO, s.parseCloudTrail} {
			calls, _, _, err := parse(context.Background(), body)
			var apiErr *api.Error
			if err != nil && !errors.As(err, &apiErr) {
				t.Fatalf("parse(%q) = %T %v", body, err, err)
			}
			if len(calls) != 0 {
				t.Fatalf("parse(%q) attributed %d calls with no key ever vended", body, len(calls))
			}
		}
	})
}

type noVerifier struct{}

func (noVerifier) Verify(context.Context, string) (api.User, error) {
	return api.User{}, errors.New("no")
}
