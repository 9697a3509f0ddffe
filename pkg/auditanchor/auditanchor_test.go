package auditanchor_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/mod/sumdb/note"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/auditanchor"
	"github.com/jit-access/jit/pkg/server"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/sqlite"
)

var policyText = testenv.Policy(testenv.ReadOnly.Without("default_duration").Without("auto_approve"))

// A checkpoint published to a bucket with Object Lock (MinIO, COMPLIANCE
// mode) cannot be deleted before its retention ends — not with the root
// keys either — and the log it names can be checked against it offline.
func TestCheckpointAnchoredWithObjectLockCannotBeDeleted(t *testing.T) {
	ctx := context.Background()
	m := testenv.MinIO(t)
	root := m.S3Client(credentials.StaticCredentialsProvider{Value: m.RootCredentials()})
	const bucket = "jit-audit-anchor"
	if _, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket), ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "jit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	skey, vkey, _ := audit.GenerateKey("jit.example.com")
	key, err := audit.ParseKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	js := testenv.StartJitServer(t, testenv.JitServerOptions{Issuer: "http://127.0.0.1:9/unused", ClientID: "unused", Policy: policyText,
		Tweak: func(o *server.Options, _ string) { o.Store = st; o.CheckpointKey = key }})
	for i := range 7 {
		if err := st.Append(ctx, audit.Event{Time: time.Unix(int64(i), 0), Type: audit.TypeVended, Actor: "alice"}); err != nil {
			t.Fatal(err)
		}
	}
	anchor := &auditanchor.S3{Client: root, Bucket: bucket, Prefix: "checkpoints/", Retention: time.Hour, Now: time.Now}
	var anchored int64
	log := slog.New(slog.DiscardHandler)
	if err := auditanchor.Once(ctx, js.Server, anchor, &anchored, log); err != nil {
		t.Fatal(err)
	}
	if anchored != 7 {
		t.Fatalf("anchored size %d, want 7", anchored)
	}
	// The checkpoint is also in the log, for webhooks: the 8th record.
	evs, err := st.Audit(ctx, store.AuditFilter{Type: audit.TypeCheckpoint})
	if err != nil || len(evs) != 1 || evs[0].Detail["size"] != "7" {
		t.Fatalf("checkpoint events %+v (%v)", evs, err)
	}
	v, _ := note.NewVerifier(vkey)
	inLog, err := audit.OpenCheckpoint([]byte(evs[0].Detail["checkpoint"]), v)
	if err != nil || inLog.Size != 7 {
		t.Fatalf("checkpoint in the log: %v %v", inLog, err)
	}
	// Nothing new but the checkpoint event itself: no second event; the
	// upload now covers that event too (size 8), and a third tick does
	// nothing.
	for range 2 {
		if err := auditanchor.Once(ctx, js.Server, anchor, &anchored, log); err != nil {
			t.Fatal(err)
		}
	}
	if anchored != 8 {
		t.Fatalf("anchored size %d after idle ticks, want 8", anchored)
	}
	if evs, _ := st.Audit(ctx, store.AuditFilter{Type: audit.TypeCheckpoint}); len(evs) != 1 {
		t.Fatalf("%d checkpoint events after an idle tick, want 1", len(evs))
	}

	ret, err := root.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: aws.String(bucket), Key: aws.String(anchor.Key(7))})
	if err != nil {
		t.Fatal(err)
	}
	if ret.Retention.Mode != types.ObjectLockRetentionModeCompliance {
		t.Fatalf("retention mode %q, want COMPLIANCE", ret.Retention.Mode)
	}
	head, err := root.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(anchor.Key(7))})
	if err != nil {
		t.Fatal(err)
	}
	// The attack: an operator who rolled the database back removes the
	// checkpoint that would betray it.
	_, err = root.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(anchor.Key(7)), VersionId: head.VersionId,
		BypassGovernanceRetention: aws.Bool(true)})
	if err == nil {
		t.Fatal("deleted a checkpoint under COMPLIANCE retention")
	}
	got, err := anchor.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := audit.OpenCheckpoint(got, v)
	if err != nil {
		t.Fatal(err)
	}
	// The anchored checkpoint names the records as they were.
	var tree audit.MemoryTree
	_ = store.EachAudit(ctx, st, store.AuditFilter{}, func(e api.AuditEvent) (bool, error) {
		leaf, err := audit.LeafHash(e)
		if err != nil {
			return false, err
		}
		return true, tree.Append(leaf)
	})
	root7, err := tree.Root(cp.Size)
	if err != nil || root7 != cp.Hash || cp.Size != 8 {
		t.Fatalf("anchored %v; the records give %s (%v)", cp, root7, err)
	}
}
