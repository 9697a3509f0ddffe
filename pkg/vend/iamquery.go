package vend

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// iamQuery is a minimal client for the three IAM actions revocation needs
// (GetRolePolicy, PutRolePolicy, DeleteRolePolicy), speaking IAM's query
// protocol signed with SigV4.
//
// Why not service/iam: jit is one binary, and the SDK's IAM package costs
// about 0.6 ms of package init on every start — credential-process included,
// which the AWS SDKs call before almost every API call near a grant's end.
// These three calls are a form POST and a small XML answer.
type iamQuery struct {
	endpoint    string // https://iam.amazonaws.com or a test server
	region      string // IAM signs in us-east-1 in the commercial partition
	credentials aws.CredentialsProvider
	http        *http.Client
	now         func() time.Time
	signer      *v4.Signer
}

// iamAPIError is an IAM error answer; it satisfies smithy.APIError so
// classify maps it like the SDK's errors.
type iamAPIError struct {
	Status  int
	Code    string `xml:"Error>Code"`
	Message string `xml:"Error>Message"`
}

func (e *iamAPIError) Error() string {
	return fmt.Sprintf("iam: HTTP %d: %s: %s", e.Status, e.Code, e.Message)
}
func (e *iamAPIError) ErrorCode() string    { return e.Code }
func (e *iamAPIError) ErrorMessage() string { return e.Message }
func (e *iamAPIError) ErrorFault() smithy.ErrorFault {
	if e.Status >= 500 {
		return smithy.FaultServer
	}
	return smithy.FaultClient
}

func (c *iamQuery) call(ctx context.Context, action string, params url.Values, out any) error {
	form := url.Values{"Action": {action}, "Version": {"2010-05-08"}}
	for k, v := range params {
		form[k] = v
	}
	body := form.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+"/", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	creds, err := c.credentials.Retrieve(ctx)
	if err != nil {
		return &v4.SigningError{Err: fmt.Errorf("retrieve credentials: %w", err)}
	}
	sum := sha256.Sum256([]byte(body))
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "iam", c.region, c.now()); err != nil {
		return &v4.SigningError{Err: err}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return &smithyhttp.RequestSendError{Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read IAM answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		apiErr := &iamAPIError{Status: resp.StatusCode}
		if xml.Unmarshal(data, apiErr) != nil || apiErr.Code == "" {
			apiErr.Code, apiErr.Message = "HTTP"+fmt.Sprint(resp.StatusCode), string(bytes.TrimSpace(data[:min(len(data), 200)]))
		}
		return apiErr
	}
	if out == nil {
		return nil
	}
	if err := xml.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode IAM %s answer: %w", action, err)
	}
	return nil
}

// getRolePolicy returns the URL-encoded document, or a NoSuchEntity error.
func (c *iamQuery) getRolePolicy(ctx context.Context, role, name string) (string, error) {
	var out struct {
		Document string `xml:"GetRolePolicyResult>PolicyDocument"`
	}
	err := c.call(ctx, "GetRolePolicy", url.Values{"RoleName": {role}, "PolicyName": {name}}, &out)
	return out.Document, err
}

func (c *iamQuery) putRolePolicy(ctx context.Context, role, name, doc string) error {
	return c.call(ctx, "PutRolePolicy", url.Values{"RoleName": {role}, "PolicyName": {name}, "PolicyDocument": {doc}}, nil)
}

func (c *iamQuery) deleteRolePolicy(ctx context.Context, role, name string) error {
	return c.call(ctx, "DeleteRolePolicy", url.Values{"RoleName": {role}, "PolicyName": {name}}, nil)
}
