package credprocess

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/credentials/processcreds"

	"github.com/jit-access/jit/pkg/api"
)

var (
	stsEnd   = time.Date(2031, 5, 6, 8, 0, 0, 0, time.UTC)
	grantEnd = time.Date(2031, 5, 6, 7, 20, 30, 0, time.UTC)
)

func sample() api.Credentials {
	return api.Credentials{
		AccessKeyID:     "ASIAEXAMPLE",
		SecretAccessKey: "secret/with+chars=",
		SessionToken:    "token<&>",
		Expiration:      stsEnd, // deliberately wrong: later than the grant's end
		STSExpiration:   stsEnd,
		GrantEndsAt:     grantEnd,
		RequestID:       "req-1",
		Role:            "prod-admin",
	}
}

func TestWriteMatchesContractExactly(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, FromCredentials(sample())); err != nil {
		t.Fatal(err)
	}
	want := `{"Version":1,"AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"secret/with+chars=","SessionToken":"token\u003c\u0026\u003e","Expiration":"2031-05-06T07:20:30Z"}` + "\n"
	if buf.String() != want {
		t.Fatalf("got  %s\nwant %s", buf.String(), want)
	}
	// Exactly the five contract keys, nothing else.
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != 5 {
		t.Fatalf("keys = %v, want the 5 contract keys", m)
	}
	// And the SDK's own response type reads the same values.
	var resp processcreds.CredentialProcessResponse
	if err := json.Unmarshal(buf.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Version != 1 || resp.AccessKeyID != "ASIAEXAMPLE" || resp.SecretAccessKey != "secret/with+chars=" ||
		resp.SessionToken != "token<&>" || resp.Expiration == nil || !resp.Expiration.Equal(grantEnd) {
		t.Fatalf("sdk read %+v", resp)
	}
}

func TestExpirationIsUTCAndNeverRoundedUp(t *testing.T) {
	loc := time.FixedZone("X", 5*3600+1800)
	c := sample()
	c.Expiration = time.Date(2031, 5, 6, 12, 0, 0, 999_000_000, loc)
	c.STSExpiration, c.GrantEndsAt = time.Time{}, time.Time{}
	b, err := json.Marshal(FromCredentials(c))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"Expiration":"2031-05-06T06:30:00Z"`) {
		t.Fatalf("got %s", b)
	}
}

func TestWriteRefusesBadOutput(t *testing.T) {
	good := FromCredentials(sample())
	for _, tc := range []struct {
		name string
		mod  func(*Output)
		want error
	}{
		{"no key", func(o *Output) { o.AccessKeyID = "" }, ErrIncomplete},
		{"no secret", func(o *Output) { o.SecretAccessKey = "" }, ErrIncomplete},
		{"no expiry", func(o *Output) { o.Expiration = time.Time{} }, ErrNoExpiry},
		{"version", func(o *Output) { o.Version = 2 }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			tc.mod(&o)
			var buf bytes.Buffer
			err := Write(&buf, o)
			if err == nil {
				t.Fatal("want an error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if buf.Len() != 0 {
				t.Fatalf("wrote %q on error", buf.String())
			}
			if strings.Contains(err.Error(), "secret/with") || strings.Contains(err.Error(), "token<") {
				t.Fatalf("secret in error: %v", err)
			}
		})
	}
}

func TestStringRedactsSecrets(t *testing.T) {
	o := FromCredentials(sample())
	for _, s := range []string{o.String(), fmt.Sprintf("%v", o), fmt.Sprintf("%+v", o), fmt.Sprintf("%#v", o)} {
		if strings.Contains(s, "secret/with") || strings.Contains(s, "token<") {
			t.Fatalf("secret shown: %s", s)
		}
		if !strings.Contains(s, "ASIAEXAMPLE") {
			t.Fatalf("key id missing: %s", s)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestWriteReportsWriterError(t *testing.T) {
	if err := Write(failWriter{}, FromCredentials(sample())); err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Fatalf("err = %v", err)
	}
}

// TestSDKProviderReadsOutput runs this test binary as a real credential_process
// command under aws-sdk-go-v2's processcreds provider.
func TestSDKProviderReadsOutput(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCredentialProcess$")
	cmd.Env = append(os.Environ(), "JIT_CREDPROCESS_HELPER=1")
	p := processcreds.NewProviderCommand(processcreds.NewCommandBuilderFunc(
		func(context.Context) (*exec.Cmd, error) { return cmd, nil }))
	creds, err := p.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if creds.AccessKeyID != "ASIAEXAMPLE" || creds.SecretAccessKey != "secret/with+chars=" || creds.SessionToken != "token<&>" {
		t.Fatalf("sdk got %v", creds)
	}
	if !creds.CanExpire || !creds.Expires.Equal(grantEnd) {
		t.Fatalf("sdk expiry = %v (can expire %v), want %v", creds.Expires, creds.CanExpire, grantEnd)
	}
}

func TestHelperCredentialProcess(t *testing.T) {
	if os.Getenv("JIT_CREDPROCESS_HELPER") != "1" {
		t.Skip("helper process for TestSDKProviderReadsOutput; runs only when re-executed by it")
	}
	if err := Write(os.Stdout, FromCredentials(sample())); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func FuzzOutputRoundTrip(f *testing.F) {
	f.Add("AKID", "sec", "tok", int64(1_900_000_000))
	f.Fuzz(func(t *testing.T, key, secret, token string, unix int64) {
		if unix < 1 || unix > 253402300799 { // RFC 3339 years 1970..9999
			return
		}
		o := Output{Version: 1, AccessKeyID: key, SecretAccessKey: secret, SessionToken: token, Expiration: time.Unix(unix, 0)}
		var buf bytes.Buffer
		if err := Write(&buf, o); err != nil {
			if o.Validate() == nil {
				t.Fatal(err)
			}
			return
		}
		var resp processcreds.CredentialProcessResponse
		if err := json.Unmarshal(buf.Bytes(), &resp); err != nil {
			t.Fatal(err)
		}
		if (utf8.ValidString(key) && resp.AccessKeyID != key) || resp.Expiration == nil || !resp.Expiration.Equal(o.Expiration) {
			t.Fatalf("round trip: %+v", resp)
		}
	})
}
