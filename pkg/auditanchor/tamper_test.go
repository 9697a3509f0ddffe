package auditanchor_test

import (
	"bytes"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/mod/sumdb/note"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/auditanchor"
	"github.com/jit-access/jit/pkg/server"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/sqlite"
)

// lockedBucket is a MinIO bucket with Object Lock (and so versioning), an
// anchor writing into it and the root client (the bucket's keys).
func lockedBucket(t *testing.T) (*auditanchor.S3, *s3.Client) {
	t.Helper()
	m := testenv.MinIO(t)
	root := m.S3Client(credentials.StaticCredentialsProvider{Value: m.RootCredentials()})
	const bucket = "jit-audit-anchor"
	if _, err := root.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucket), ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	return &auditanchor.S3{Client: root, Bucket: bucket, Prefix: "checkpoints/", Retention: time.Hour, Now: time.Now}, root
}

// serveLog serves a fresh SQLite store holding one record per actor,
// signing checkpoints with key.
func serveLog(t *testing.T, key *audit.Key, actors ...string) (*server.Server, store.Store) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "jit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	js := testenv.StartJitServer(t, testenv.JitServerOptions{Issuer: "http://127.0.0.1:9/unused", ClientID: "unused", Policy: policyText,
		Tweak: func(o *server.Options, _ string) { o.Store = st; o.CheckpointKey = key }})
	for i, a := range actors {
		if err := st.Append(t.Context(), audit.Event{Time: time.Unix(int64(i), 0), Type: audit.TypeVended, Actor: a}); err != nil {
			t.Fatal(err)
		}
	}
	return js.Server, st
}

func newKey(t *testing.T) (*audit.Key, note.Verifier) {
	t.Helper()
	skey, vkey, err := audit.GenerateKey("jit.example.com")
	if err != nil {
		t.Fatal(err)
	}
	k, err := audit.ParseKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return k, v
}

func versionsOf(t *testing.T, root *s3.Client, a *auditanchor.S3, size int64) (versions, markers int) {
	t.Helper()
	out, err := root.ListObjectVersions(t.Context(), &s3.ListObjectVersionsInput{Bucket: aws.String(a.Bucket), Prefix: aws.String(a.Key(size))})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Versions), len(out.DeleteMarkers)
}

var honest = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace"}

// The attack, with database access only: roll the log back and write other
// records until it reaches a size already anchored. The restarted server's
// own publish would write a second version of that checkpoint key, and a
// plain GET returns the newest. The anchor checks that the log extends the
// newest checkpoint in the bucket before it publishes, and refuses.
func TestAnchorRefusesToPublishARolledBackLogOfAnAnchoredSize(t *testing.T) {
	anchor, root := lockedBucket(t)
	key, v := newKey(t)
	log := slog.New(slog.DiscardHandler)
	srv, _ := serveLog(t, key, honest...)
	var anchored int64
	if err := auditanchor.Once(t.Context(), srv, anchor, &anchored, log); err != nil || anchored != 7 {
		t.Fatalf("honest anchor: size %d, %v", anchored, err)
	}
	// The same three first records, then four others: seven records again.
	rewritten, _ := serveLog(t, key, "alice", "bob", "carol", "mallory", "mallory", "mallory", "mallory")
	var fresh int64 // the restarted server remembers nothing
	err := auditanchor.Once(t.Context(), rewritten, anchor, &fresh, log)
	if !errors.Is(err, audit.ErrInconsistent) {
		t.Fatalf("publishing the rewritten log: err %v, want ErrInconsistent", err)
	}
	if n, _ := versionsOf(t, root, anchor, 7); n != 1 {
		t.Fatalf("checkpoint key of size 7 holds %d versions, want 1", n)
	}
	got, err := anchor.Latest(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	cp, err := audit.OpenCheckpoint(got, v)
	if err != nil || cp.Size != 7 {
		t.Fatalf("latest %v %v", cp, err)
	}
	// A longer rewritten log (the checkpoint event made it 8) is refused too.
	if err := auditanchor.Once(t.Context(), rewritten, anchor, &fresh, log); !errors.Is(err, audit.ErrInconsistent) {
		t.Fatalf("second tick of the rewritten log: err %v, want ErrInconsistent", err)
	}
}

// The honest server after a restart (nothing remembered) goes on anchoring.
func TestAnchorAfterRestartExtendsWhatTheBucketHolds(t *testing.T) {
	anchor, _ := lockedBucket(t)
	key, _ := newKey(t)
	log := slog.New(slog.DiscardHandler)
	srv, st := serveLog(t, key, honest...)
	var anchored int64
	if err := auditanchor.Once(t.Context(), srv, anchor, &anchored, log); err != nil {
		t.Fatal(err)
	}
	if err := st.Append(t.Context(), audit.Event{Time: time.Unix(100, 0), Type: audit.TypeVended, Actor: "heidi"}); err != nil {
		t.Fatal(err)
	}
	var fresh int64
	if err := auditanchor.Once(t.Context(), srv, anchor, &fresh, log); err != nil || fresh != 9 {
		t.Fatalf("anchoring after a restart: size %d, %v", fresh, err)
	}
}

// Publish never writes a second version of one size: the PUT carries
// If-None-Match: *.
func TestAnchorPublishNeverWritesASecondVersionOfASize(t *testing.T) {
	anchor, root := lockedBucket(t)
	key, _ := newKey(t)
	cp := audit.Checkpoint{Origin: "jit.example.com", Size: 3}
	first, _ := audit.SignCheckpoint(cp, key.Signer)
	if err := anchor.Publish(t.Context(), cp, first); err != nil {
		t.Fatal(err)
	}
	cp.Hash[0] = 1
	second, _ := audit.SignCheckpoint(cp, key.Signer)
	if err := anchor.Publish(t.Context(), cp, second); err == nil {
		t.Fatal("a second checkpoint of size 3 was written")
	}
	if n, _ := versionsOf(t, root, anchor, 3); n != 1 {
		t.Fatalf("%d versions of size 3, want 1", n)
	}
}

// With the bucket's keys, a second version written at an anchored size
// (an overwrite Object Lock allows: it only keeps the old version) makes
// Latest refuse, instead of returning the newest version.
func TestAnchorLatestRefusesACheckpointKeyWithTwoVersions(t *testing.T) {
	anchor, root := lockedBucket(t)
	key, _ := newKey(t)
	srv, _ := serveLog(t, key, honest...)
	var anchored int64
	if err := auditanchor.Once(t.Context(), srv, anchor, &anchored, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	forged, _ := audit.SignCheckpoint(audit.Checkpoint{Origin: "jit.example.com", Size: 7}, key.Signer)
	if _, err := root.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(anchor.Bucket), Key: aws.String(anchor.Key(7)),
		Body: bytes.NewReader(forged)}); err != nil {
		t.Fatal(err)
	}
	if got, err := anchor.Latest(t.Context()); err == nil {
		t.Fatalf("Latest returned %q from a key with two versions", got)
	}
}

// With the bucket's keys, a DELETE without a version id adds a delete
// marker (Object Lock allows it): a plain listing no longer shows the
// checkpoint. Latest reads every version, so it still finds it.
func TestAnchorLatestSeesACheckpointHiddenByADeleteMarker(t *testing.T) {
	anchor, root := lockedBucket(t)
	key, v := newKey(t)
	srv, st := serveLog(t, key, honest...)
	log := slog.New(slog.DiscardHandler)
	var anchored int64
	if err := auditanchor.Once(t.Context(), srv, anchor, &anchored, log); err != nil {
		t.Fatal(err)
	}
	if err := st.Append(t.Context(), audit.Event{Time: time.Unix(100, 0), Type: audit.TypeVended, Actor: "heidi"}); err != nil {
		t.Fatal(err)
	}
	if err := auditanchor.Once(t.Context(), srv, anchor, &anchored, log); err != nil || anchored != 9 {
		t.Fatalf("second anchor: %d %v", anchored, err)
	}
	if _, err := root.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(anchor.Bucket), Key: aws.String(anchor.Key(9))}); err != nil {
		t.Fatalf("an unversioned DELETE (a delete marker) should be allowed by Object Lock: %v", err)
	}
	if _, markers := versionsOf(t, root, anchor, 9); markers != 1 {
		t.Fatalf("%d delete markers, want 1", markers)
	}
	got, err := anchor.Latest(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	cp, err := audit.OpenCheckpoint(got, v)
	if err != nil || cp.Size != 9 {
		t.Fatalf("Latest behind a delete marker: %v %v, want the checkpoint of 9", cp, err)
	}
}
