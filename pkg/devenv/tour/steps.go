package tour

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// step is one narrated stage of the tour: its heading, and what it does.
// Steps run in order and hand results on through the tour's fields.
type step struct {
	title func(t *tour) string
	run   func(ctx context.Context, t *tour) error
}

// titled is a step heading that does not depend on earlier steps.
func titled(s string) func(*tour) string { return func(*tour) string { return s } }

// steps is the tour, in order.
var steps = []step{
	{titled("alice (developers) signs in with the device flow"), func(ctx context.Context, t *tour) error {
		return t.login(ctx, t.alice)
	}},
	{titled("alice lists the roles she may request"), func(ctx context.Context, t *tour) error {
		_, err := t.must(ctx, t.alice, "roles")
		return err
	}},
	{titled("alice asks for readonly: developers get it at once"), stepRequestReadonly},
	{titled("alice writes a credential_process profile per role into her AWS config"), func(ctx context.Context, t *tour) error {
		_, err := t.must(ctx, t.alice, "configure", "aws")
		return err
	}},
	{titled("the AWS CLI lists the demo bucket through the readonly profile (credential_process = jit)"), func(ctx context.Context, t *tour) error {
		bucket := t.sb.Bucket
		return t.awsS3(ctx, t.alice, "readonly", []string{"s3", "ls", "s3://" + bucket + "/", "--recursive"},
			func(ctx context.Context, c *s3.Client) (string, error) { return listKeys(ctx, c, bucket) })
	}},
	{titled("alice asks for admin, which needs an approver; she does not wait"), stepRequestAdmin},
	{func(t *tour) string { return "alice waits for a decision in the background: jit wait " + t.adminID }, func(ctx context.Context, t *tour) error {
		waiter, _, err := t.start(ctx, t.alice, regexp.MustCompile(`is pending`), "wait", t.adminID)
		if err != nil {
			return err
		}
		t.waiter = waiter
		t.say("(waiting; alice's CLI is subscribed to the request)")
		return nil
	}},
	{titled("bob (approvers) signs in with his own CLI config and keyring, and approves"), stepBobApproves},
	{titled("alice's jit wait returns with the grant"), func(ctx context.Context, t *tour) error {
		r, err := t.waiter.wait()
		if err != nil {
			return err
		}
		t.show(t.alice, []string{"wait", t.adminID}, r.output())
		if r.code != 0 {
			return fmt.Errorf("alice: `jit wait %s` exited %d", t.adminID, r.code)
		}
		return nil
	}},
	{titled("alice uploads a file with the admin profile"), stepUpload},
	{titled("alice hands back her first readonly grant"), func(ctx context.Context, t *tour) error {
		_, err := t.must(ctx, t.alice, "revoke", t.readonlyID, "--reason", "done reading")
		return err
	}},
	{func(t *tour) string {
		return fmt.Sprintf("alice asks for readonly for %s only, and watches it end", t.opts.ShortGrant)
	}, stepShortGrant},
	{titled("after the end: credential_process refuses, MinIO refuses, the keyring item is gone"), stepAfterTheEnd},
	{titled("carol (admins) verifies the audit log's hash chain"), func(ctx context.Context, t *tour) error {
		if err := t.login(ctx, t.carol); err != nil {
			return err
		}
		r, err := t.must(ctx, t.carol, "audit", "verify")
		if err != nil {
			return err
		}
		if !strings.HasPrefix(strings.TrimSpace(r.stdout), "OK") {
			return fmt.Errorf("jit audit verify: %s", r.output())
		}
		return nil
	}},
}

// run introduces the tour, makes each person's environment and runs the
// steps in order, stopping at the first that fails.
func (t *tour) run(ctx context.Context) error {
	sb := t.sb
	fmt.Fprintf(t.out, "jit dev --tour: a scripted run of the real jit binary (%s) against the sandbox\n", t.opts.Jit)
	fmt.Fprintf(t.out, "  jit server %s · OIDC %s · MinIO %s (bucket %s)\n", sb.ServerURL, sb.IssuerURL, sb.MinIOEndpoint, sb.Bucket)
	fmt.Fprintf(t.out, "  each person has an own CLI config, file keyring and AWS config under %s\n", t.opts.WorkDir)
	for _, u := range []struct {
		name string
		dst  **tourUser
	}{{"alice", &t.alice}, {"bob", &t.bob}, {"carol", &t.carol}} {
		user, err := t.user(u.name)
		if err != nil {
			return err
		}
		*u.dst = user
	}
	for _, s := range steps {
		t.step("%s", s.title(t))
		if err := s.run(ctx, t); err != nil {
			return err
		}
	}
	fmt.Fprintf(t.out, "\nOK: the tour passed. Run `jit dev` to try it yourself.\n")
	return nil
}

func stepRequestReadonly(ctx context.Context, t *tour) error {
	r, err := t.must(ctx, t.alice, "request", "readonly", "--reason", "tour: look at the demo bucket")
	if err != nil {
		return err
	}
	t.readonlyID, err = firstID(r)
	return err
}

func stepRequestAdmin(ctx context.Context, t *tour) error {
	args := []string{"request", "admin", "--reason", "tour: upload a report", "--no-wait"}
	r, err := t.exec(ctx, t.alice, args...)
	if err != nil {
		return err
	}
	t.show(t.alice, args, r.output())
	if r.code != 8 {
		return fmt.Errorf("alice: `jit request admin --no-wait` exited %d, want 8 (pending)", r.code)
	}
	t.adminID, err = firstID(r)
	return err
}

func stepBobApproves(ctx context.Context, t *tour) error {
	if err := t.login(ctx, t.bob); err != nil {
		return err
	}
	if _, err := t.must(ctx, t.bob, "requests", "--pending"); err != nil {
		return err
	}
	_, err := t.must(ctx, t.bob, "approve", t.adminID, "--comment", "ok for the tour")
	return err
}

func stepUpload(ctx context.Context, t *tour) error {
	bucket := t.sb.Bucket
	report := filepath.Join(t.alice.home, "from-alice.txt")
	if err := os.WriteFile(report, []byte("uploaded with a jit admin grant\n"), 0o600); err != nil {
		return err
	}
	return t.awsS3(ctx, t.alice, "admin", []string{"s3", "cp", report, "s3://" + bucket + "/from-alice.txt"},
		func(ctx context.Context, c *s3.Client) (string, error) {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("from-alice.txt"),
				Body: strings.NewReader("uploaded with a jit admin grant\n")})
			return "upload: s3://" + bucket + "/from-alice.txt", err
		})
}

// stepShortGrant asks for a short grant, shows it works and is cached, and
// waits for its end.
func stepShortGrant(ctx context.Context, t *tour) error {
	short := t.opts.ShortGrant
	if _, err := t.must(ctx, t.alice, "request", "readonly", "--for", short.String(), "--reason", "tour: a short grant"); err != nil {
		return err
	}
	creds, err := t.credentialProcess(ctx, t.alice, "readonly")
	if err != nil {
		return err
	}
	t.short = creds
	if _, err := listKeys(ctx, t.sb.S3Client(creds.provider()), t.sb.Bucket); err != nil {
		return fmt.Errorf("S3 with the short grant's credentials: %w", err)
	}
	t.say("S3 ListObjectsV2 with these credentials: allowed")
	cached, err := t.hasCachedCredentials(t.alice, "readonly")
	if err != nil {
		return err
	}
	if !cached {
		return errors.New("alice's keyring holds no readonly credentials while the grant lives")
	}
	t.say("alice's keyring holds the readonly credentials")
	end := creds.Expiration.Add(2 * time.Second)
	t.say("waiting until the grant ends at %s (the STS credentials themselves last 15 minutes)…", creds.Expiration.Local().Format("15:04:05"))
	return t.sleepUntil(ctx, end)
}

// stepAfterTheEnd checks that the short grant's end is enforced everywhere.
func stepAfterTheEnd(ctx context.Context, t *tour) error {
	r, err := t.exec(ctx, t.alice, "credential-process", "--role", "readonly")
	if err != nil {
		return err
	}
	t.show(t.alice, []string{"credential-process", "--role", "readonly"}, r.stderr)
	if r.code == 0 {
		return errors.New("credential-process still gave credentials after the grant ended")
	}
	if !strings.Contains(r.stderr, "readonly") {
		return fmt.Errorf("credential-process failed without naming the role: %q", r.stderr)
	}
	if _, err := listKeys(ctx, t.sb.S3Client(t.short.provider()), t.sb.Bucket); err == nil {
		return errors.New("MinIO still accepts the ended grant's credentials")
	} else {
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) {
			t.say("S3 ListObjectsV2 with the credentials vended before the end: refused (%s: %s)", apiErr.ErrorCode(), apiErr.ErrorMessage())
		} else {
			t.say("S3 ListObjectsV2 with the credentials vended before the end: refused (%v)", err)
		}
	}
	if cached, err := t.hasCachedCredentials(t.alice, "readonly"); err != nil {
		return err
	} else if cached {
		return errors.New("alice's keyring still holds the ended grant's credentials")
	}
	t.say("alice's keyring no longer holds readonly credentials")
	return nil
}
