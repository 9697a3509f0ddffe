package testenv_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/jit-access/jit/internal/testenv"
)

func TestMinIOUserCanUseS3UntilDisabled(t *testing.T) {
	m := testenv.MinIO(t)
	if !strings.HasPrefix(m.Endpoint(), "http://127.0.0.1:") {
		t.Fatalf("endpoint %q is not on loopback", m.Endpoint())
	}
	m.CreateBucket(t, "jit-testenv")
	u := m.AddUser(t, "readwrite")
	c := m.S3Client(u.Provider())

	if _, err := c.PutObject(t.Context(), &s3.PutObjectInput{
		Bucket: aws.String("jit-testenv"), Key: aws.String("k"), Body: strings.NewReader("v"),
	}); err != nil {
		t.Fatalf("put as a new readwrite user: %v", err)
	}
	out, err := c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String("jit-testenv")})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(out.Contents) != 1 || aws.ToString(out.Contents[0].Key) != "k" {
		t.Fatalf("list = %+v, want the one object k", out.Contents)
	}

	m.DisableUser(t, u.AccessKeyID)
	_, err = c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String("jit-testenv")})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("list as a disabled user: err = %v, want an S3 error", err)
	}
	t.Logf("disabled user refused: %s", apiErr.ErrorCode())
}
