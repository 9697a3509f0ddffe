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
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

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

// Publish writes a signed checkpoint note, locked until now+Retention.
// Writing the same size twice is refused by the lock only if the bytes
// differ; the anchor writes each size once.
func (a *S3) Publish(ctx context.Context, cp audit.Checkpoint, note []byte) error {
	_, err := a.Client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:                    aws.String(a.Bucket),
		Key:                       aws.String(a.Key(cp.Size)),
		Body:                      bytes.NewReader(note),
		ContentType:               aws.String("text/plain; charset=utf-8"),
		ObjectLockMode:            types.ObjectLockModeCompliance,
		ObjectLockRetainUntilDate: aws.Time(a.Now().Add(a.Retention)),
		ChecksumAlgorithm:         types.ChecksumAlgorithmSha256,
	})
	if err != nil {
		return fmt.Errorf("publish checkpoint %d to s3://%s/%s: %w", cp.Size, a.Bucket, a.Key(cp.Size), err)
	}
	return nil
}

// Latest returns the newest checkpoint note in the bucket (nil: none).
func (a *S3) Latest(ctx context.Context) ([]byte, error) {
	var last string
	p := s3.NewListObjectsV2Paginator(a.Client, &s3.ListObjectsV2Input{Bucket: aws.String(a.Bucket), Prefix: aws.String(a.Prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list checkpoints: %w", err)
		}
		for _, o := range page.Contents {
			if k := aws.ToString(o.Key); k > last {
				last = k
			}
		}
	}
	if last == "" {
		return nil, nil
	}
	out, err := a.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String(last)})
	if err != nil {
		return nil, fmt.Errorf("get checkpoint %s: %w", last, err)
	}
	defer out.Body.Close()
	return io.ReadAll(io.LimitReader(out.Body, 64<<10))
}

// Publisher is the server side: PublishCheckpoint signs the tree and logs
// it as an audit.checkpoint event (server.Server implements it).
type Publisher interface {
	PublishCheckpoint(ctx context.Context) (cp audit.Checkpoint, note []byte, ok bool, err error)
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
			if err := Once(ctx, p, anchor, &anchored, log); err != nil && ctx.Err() == nil {
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
// and uploads it to anchor when it is newer than *anchored.
func Once(ctx context.Context, p Publisher, anchor *S3, anchored *int64, log *slog.Logger) error {
	cp, note, _, err := p.PublishCheckpoint(ctx)
	if err != nil {
		return err
	}
	if anchor == nil || cp.Size == 0 || cp.Size <= *anchored {
		return nil
	}
	if err := anchor.Publish(ctx, cp, note); err != nil {
		return err
	}
	*anchored = cp.Size
	log.Info("audit checkpoint anchored", "size", cp.Size, "bucket", anchor.Bucket, "key", anchor.Key(cp.Size))
	return nil
}

func defaultCredentials(ctx context.Context, region string) (aws.CredentialsProvider, error) {
	c, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region))
	if err != nil {
		return nil, fmt.Errorf("audit anchor: aws credentials: %w", err)
	}
	return c.Credentials, nil
}
