// Package auditanchor publishes the audit log's signed checkpoints outside
// the server: into the log itself as audit.checkpoint events (which webhooks
// deliver like any event) and, when configured, into an S3 bucket with
// Object Lock, where each checkpoint is write-once: in COMPLIANCE mode not
// even the bucket's owner can delete or overwrite it before its retention
// ends. A later rollback of the database cannot take a published checkpoint
// back, and anyone can check the log against it (jit audit verify --file
// export.jsonl --checkpoint FILE).
package auditanchor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/jit-access/jit/pkg/audit"
)

// S3 writes checkpoints to a bucket with Object Lock enabled.
type S3 struct {
	Client    *s3.Client
	Bucket    string
	Prefix    string        // object key prefix [checkpoints/]
	Retention time.Duration // COMPLIANCE retention of each object
	Now       func() time.Time
}

// Config builds an S3 anchor from the server config's fields.
type Config struct {
	Bucket, Prefix, Region, Endpoint string
	AccessKeyID, SecretAccessKey     string
	RetentionDays                    int
	Now                              func() time.Time
}

// NewS3 returns an anchor for cfg; without keys it uses the AWS SDK's
// default credential chain.
func NewS3(ctx context.Context, cfg Config) (*S3, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("audit anchor: bucket is required")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "checkpoints/"
	}
	if cfg.RetentionDays <= 0 {
		cfg.RetentionDays = 365
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	o := s3.Options{Region: cfg.Region, HTTPClient: &http.Client{Timeout: 30 * time.Second}}
	if cfg.Endpoint != "" {
		o.BaseEndpoint = aws.String(cfg.Endpoint)
		o.UsePathStyle = true
	}
	if cfg.AccessKeyID != "" {
		o.Credentials = credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")
	} else {
		c, err := defaultCredentials(ctx, cfg.Region)
		if err != nil {
			return nil, err
		}
		o.Credentials = c
	}
	return &S3{Client: s3.New(o), Bucket: cfg.Bucket, Prefix: cfg.Prefix,
		Retention: time.Duration(cfg.RetentionDays) * 24 * time.Hour, Now: cfg.Now}, nil
}

// Key is the object key of the checkpoint of size records: zero-padded so
// that keys sort by size.
func (a *S3) Key(size int64) string { return fmt.Sprintf("%s%020d", a.Prefix, size) }

// Publish writes a signed checkpoint note, locked until now+Retention. The
// PUT carries If-None-Match: *, so a size already anchored is never written
// again: the bucket never holds a second version of one checkpoint key.
func (a *S3) Publish(ctx context.Context, cp audit.Checkpoint, note []byte) error {
	_, err := a.Client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:                    aws.String(a.Bucket),
		Key:                       aws.String(a.Key(cp.Size)),
		Body:                      bytes.NewReader(note),
		ContentType:               aws.String("text/plain; charset=utf-8"),
		IfNoneMatch:               aws.String("*"),
		ObjectLockMode:            types.ObjectLockModeCompliance,
		ObjectLockRetainUntilDate: aws.Time(a.Now().Add(a.Retention)),
		ChecksumAlgorithm:         types.ChecksumAlgorithmSha256,
	})
	if err != nil {
		return fmt.Errorf("publish checkpoint %d to s3://%s/%s: %w", cp.Size, a.Bucket, a.Key(cp.Size), err)
	}
	return nil
}

// ErrTampered is returned when the bucket holds a second version of a
// checkpoint key: someone with the bucket's keys wrote over a checkpoint
// (Object Lock keeps the old version but a plain GET returns the new one).
var ErrTampered = errors.New("audit anchor: a checkpoint key holds more than one version")

// isCheckpointKey reports whether k is prefix + 20 digits, as Key writes.
func (a *S3) isCheckpointKey(k string) bool {
	d, ok := strings.CutPrefix(k, a.Prefix)
	if !ok || len(d) != 20 {
		return false
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Latest returns the newest checkpoint note in the bucket (nil: none). It
// reads every version of every key (ListObjectVersions), so a delete
// marker (a DELETE without a version id) hides nothing, and it refuses
// (ErrTampered) a key that holds more than one version.
func (a *S3) Latest(ctx context.Context) ([]byte, error) {
	var last, lastVersion, prev string
	p := s3.NewListObjectVersionsPaginator(a.Client, &s3.ListObjectVersionsInput{Bucket: aws.String(a.Bucket), Prefix: aws.String(a.Prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list checkpoint versions in s3://%s/%s: %w", a.Bucket, a.Prefix, err)
		}
		for _, o := range page.Versions {
			k := aws.ToString(o.Key)
			if !a.isCheckpointKey(k) {
				continue
			}
			if k == prev { // versions of one key are listed together
				return nil, fmt.Errorf("%w: s3://%s/%s was written twice; keep every version as evidence (aws s3api list-object-versions) and find who holds the bucket's keys",
					ErrTampered, a.Bucket, k)
			}
			prev = k
			if k > last {
				last, lastVersion = k, aws.ToString(o.VersionId)
			}
		}
	}
	if last == "" {
		return nil, nil
	}
	in := &s3.GetObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String(last)}
	if lastVersion != "" && lastVersion != "null" {
		in.VersionId = aws.String(lastVersion)
	}
	out, err := a.Client.GetObject(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("get checkpoint %s: %w", last, err)
	}
	defer out.Body.Close()
	return io.ReadAll(io.LimitReader(out.Body, 64<<10))
}

// Publisher is the server side: PublishCheckpoint signs the tree and logs
// it as an audit.checkpoint event; ProveTree proves that the tree of from
// records is a prefix of the tree of size records; CheckpointVerifierKey
// names the signing key (server.Server implements it).
type Publisher interface {
	PublishCheckpoint(ctx context.Context) (cp audit.Checkpoint, note []byte, ok bool, err error)
	ProveTree(ctx context.Context, size, from int64) (tlog.TreeProof, error)
	CheckpointVerifierKey() string
}

// Run publishes a checkpoint every interval while the log grows, to the
// log (and so to webhooks) and to anchor when it is not nil, until ctx
// ends. A failed upload is retried at the next tick with the then newest
// checkpoint.
// lead, when not nil, is asked before each tick whether this replica is the
// one that publishes (a store lease), so that replicas do not each log and
// upload the same checkpoint.
func Run(ctx context.Context, p Publisher, anchor *S3, interval time.Duration, lead func(ctx context.Context) (bool, error), log *slog.Logger) {
	var anchored int64
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		ok := true
		if lead != nil {
			var err error
			if ok, err = lead(ctx); err != nil && ctx.Err() == nil {
				log.Warn("audit checkpoint lease", "err", err)
			}
		}
		if ok {
			switch err := Once(ctx, p, anchor, &anchored, log); {
			case err == nil || ctx.Err() != nil:
			case errors.Is(err, audit.ErrInconsistent), errors.Is(err, ErrTampered):
				log.Error("audit checkpoint NOT anchored: the log or the bucket was tampered with", "err", err)
			default:
				log.Warn("audit checkpoint", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Once publishes the current checkpoint: logs it (unless nothing changed)
// and uploads it to anchor when it is newer than *anchored, after checking
// that it extends the newest checkpoint the bucket holds. A log that does
// not (rolled back or rewritten since it was anchored) is never anchored:
// the error wraps audit.ErrInconsistent.
func Once(ctx context.Context, p Publisher, anchor *S3, anchored *int64, log *slog.Logger) error {
	cp, note, _, err := p.PublishCheckpoint(ctx)
	if err != nil {
		return err
	}
	if anchor == nil || cp.Size == 0 || cp.Size <= *anchored {
		return nil
	}
	done, err := anchor.extends(ctx, p, cp)
	if err != nil {
		return err
	}
	if !done {
		if err := anchor.Publish(ctx, cp, note); err != nil {
			return err
		}
		log.Info("audit checkpoint anchored", "size", cp.Size, "bucket", anchor.Bucket, "key", anchor.Key(cp.Size))
	}
	*anchored = cp.Size
	return nil
}

// extends checks cp against the newest checkpoint in the bucket: it must
// be the same tree (done: already anchored) or extend it (a consistency
// proof from the publisher). A stored checkpoint signed by another key (the
// signing key was rotated) is compared all the same: size and root do not
// depend on the key.
func (a *S3) extends(ctx context.Context, p Publisher, cp audit.Checkpoint) (done bool, err error) {
	msg, err := a.Latest(ctx)
	if err != nil || msg == nil {
		return false, err
	}
	stored, err := a.open(msg, p.CheckpointVerifierKey())
	if err != nil {
		return false, err
	}
	var proof tlog.TreeProof
	if stored.Size > 0 && stored.Size < cp.Size {
		if proof, err = p.ProveTree(ctx, cp.Size, stored.Size); err != nil {
			return false, fmt.Errorf("prove the log extends the anchored checkpoint %d: %w", stored.Size, err)
		}
	}
	if err := audit.CheckConsistency(stored, cp, proof); err != nil {
		return false, fmt.Errorf("the audit log does not extend the checkpoint anchored at s3://%s/%s: %w; nothing is anchored until an operator finds out why (the database was restored or edited?)",
			a.Bucket, a.Key(stored.Size), err)
	}
	return stored.Size == cp.Size, nil
}

// open reads a stored checkpoint: verified with vkey, or (another key's,
// after a rotation) parsed from its text.
func (a *S3) open(msg []byte, vkey string) (audit.Checkpoint, error) {
	if v, err := note.NewVerifier(vkey); err == nil {
		cp, err := audit.OpenCheckpoint(msg, v)
		if err == nil || !errors.Is(err, audit.ErrCheckpointSignature) {
			return cp, err
		}
	}
	cp, err := audit.ReadCheckpoint(msg)
	if err != nil {
		return audit.Checkpoint{}, fmt.Errorf("checkpoint in s3://%s/%s: %w", a.Bucket, a.Prefix, err)
	}
	return cp, nil
}

func defaultCredentials(ctx context.Context, region string) (aws.CredentialsProvider, error) {
	c, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region))
	if err != nil {
		return nil, fmt.Errorf("audit anchor: aws credentials: %w", err)
	}
	return c.Credentials, nil
}
