package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/credcache"
	"github.com/jit-access/jit/pkg/vend"
)

// perGrantVendor gives every grant its own MinIO parent user, so that
// revoking one grant can disable exactly that grant's sessions: the MinIO
// stand-in for AWS's inline Deny keyed on the grant's session tag (MinIO
// enforces user disablement at once; it has no inline-deny revocation).
type perGrantVendor struct {
	t     *testing.T
	r     *rig
	mu    sync.Mutex
	pool  []testenv.MinIOUser
	users map[string]testenv.MinIOUser // request id → parent
}

func newPerGrantVendor(t *testing.T, r *rig, pool int) *perGrantVendor {
	v := &perGrantVendor{t: t, r: r, users: map[string]testenv.MinIOUser{}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	sem := make(chan struct{}, 4)
	for range pool {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			u := r.minio.AddUser(t, "readwrite")
			mu.Lock()
			v.pool = append(v.pool, u)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return v
}

func (v *perGrantVendor) parent(id string) testenv.MinIOUser {
	v.mu.Lock()
	defer v.mu.Unlock()
	if u, ok := v.users[id]; ok {
		return u
	}
	var u testenv.MinIOUser
	if len(v.pool) > 0 {
		u, v.pool = v.pool[len(v.pool)-1], v.pool[:len(v.pool)-1]
	} else {
		u = v.r.minio.AddUser(v.t, "readwrite")
	}
	v.users[id] = u
	return u
}

func (v *perGrantVendor) Vend(ctx context.Context, in vend.Input, now time.Time) (vend.Credentials, error) {
	sts, err := vend.NewSTS(vend.STSConfig{Region: v.r.minio.Region(), Endpoint: v.r.minio.Endpoint(),
		Credentials: v.parent(in.RequestID).Provider(), DenyActions: []string{"s3:*"}, HTTPClient: v.r.hc})
	if err != nil {
		return vend.Credentials{}, err
	}
	return sts.Vend(ctx, in, now)
}

// Revoke disables the grant's parent user (the stand-in for the inline Deny).
func (v *perGrantVendor) Revoke(_ context.Context, in vend.RevokeInput) error {
	v.mu.Lock()
	u, ok := v.users[in.RequestID]
	v.mu.Unlock()
	if !ok {
		return errors.New("no parent user for " + in.RequestID)
	}
	v.r.minio.DisableUser(v.t, u.AccessKeyID)
	return nil
}

// s3Works reports whether creds may list the bench bucket.
func (r *rig) s3Works(ctx context.Context, c api.Credentials) bool {
	cl := r.minio.S3Client(credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken))
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	return err == nil
}

type expiryResult struct {
	sweep                  time.Duration
	stateLag, refusedAfter []float64 // ms after EndsAt
	lastOK                 []float64 // ms after EndsAt (negative: before)
	grant                  time.Duration
}

// measureExpiry: grants of d each (auto-approved reads), staggered; for each,
// poll S3 with its credentials and the server's state every 50 ms around the
// end.
func (r *rig) measureExpiry(t *testing.T, base string, sweep time.Duration, n int, d time.Duration) expiryResult {
	res := expiryResult{sweep: sweep, grant: d}
	var mu sync.Mutex
	staggered(n, 370*time.Millisecond, func(i int) {
		ctx := context.Background()
		user := fmt.Sprintf("dev%02d", i%8+1)
		req, c, err := r.grant(ctx, base, user, api.CreateRequest{Role: "readonly", DurationSeconds: int64(d / time.Second)})
		if err != nil {
			t.Error(err)
			return
		}
		end := c.GrantEndsAt
		var refused, lastOK, expired time.Time
		var pw sync.WaitGroup
		pw.Add(2)
		go func() { // S3
			defer pw.Done()
			for time.Now().Before(end.Add(5 * time.Second)) {
				now := time.Now()
				if r.s3Works(ctx, c) {
					lastOK = now
				} else if refused.IsZero() && now.After(end.Add(-5*time.Second)) {
					refused = now
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
		go func() { // server state
			defer pw.Done()
			for time.Now().Before(end.Add(sweep + 10*time.Second)) {
				var g api.Request
				if _, err := r.call(ctx, base, user, "GET", "/v1/requests/"+req.ID, nil, &g); err == nil && g.State == api.StateExpired {
					expired = time.Now()
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
		pw.Wait()
		mu.Lock()
		defer mu.Unlock()
		if refused.IsZero() || expired.IsZero() {
			t.Errorf("grant %s: refused=%v expired=%v", req.ID, refused, expired)
			return
		}
		res.refusedAfter = append(res.refusedAfter, ms(refused.Sub(end)))
		res.lastOK = append(res.lastOK, ms(lastOK.Sub(end)))
		res.stateLag = append(res.stateLag, ms(expired.Sub(end)))
	})
	return res
}

type revokeResult struct {
	api, refused []float64 // ms after the revoke call was sent
}

func (r *rig) measureRevoke(t *testing.T, base string, n int) revokeResult {
	var res revokeResult
	ctx := context.Background()
	for i := range n {
		user := fmt.Sprintf("dev%02d", i%8+1)
		req, c, err := r.grant(ctx, base, user, api.CreateRequest{Role: "readonly", DurationSeconds: 600})
		if err != nil {
			t.Fatal(err)
		}
		if !r.s3Works(ctx, c) {
			t.Fatal("fresh credentials refused")
		}
		refused := make(chan time.Time, 1)
		stop := make(chan struct{})
		go func() {
			for {
				select {
				case <-stop:
					refused <- time.Time{}
					return
				default:
				}
				if !r.s3Works(ctx, c) {
					refused <- time.Now()
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
		t0 := time.Now()
		if _, err := r.call(ctx, base, "appr1", "POST", "/v1/requests/"+req.ID+"/revoke", api.DecisionBody{Comment: "bench"}, nil); err != nil {
			t.Fatal(err)
		}
		tAPI := time.Now()
		var tr time.Time
		select {
		case tr = <-refused:
		case <-time.After(10 * time.Second):
			close(stop)
			tr = <-refused
		}
		if tr.IsZero() {
			t.Errorf("revoked grant %s still works after 10s", req.ID)
			continue
		}
		res.api = append(res.api, ms(tAPI.Sub(t0)))
		res.refused = append(res.refused, ms(tr.Sub(t0)))
	}
	return res
}

// measureKeyctlExpiry: items whose credentials end in 2 s; the cache's own
// clock is frozen, so only the kernel's key timeout can remove them.
func measureKeyctlExpiry(t *testing.T, n int) []float64 {
	t0 := time.Now()
	c, err := credcache.Open(credcache.Config{Backend: credcache.BackendKeyctl, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	server := fmt.Sprintf("http://127.0.0.1:1/keyctl-expiry-%d", t0.UnixNano())
	var out []float64
	var mu sync.Mutex
	staggered(n, 230*time.Millisecond, func(i int) {
		role := fmt.Sprintf("brief%d", i)
		exp := time.Now().Add(2 * time.Second)
		mu.Lock()
		err := c.PutCredentials(context.Background(), server, role, benchCreds(role, exp))
		mu.Unlock()
		if err != nil {
			t.Error(err)
			return
		}
		for time.Now().Before(exp.Add(10 * time.Second)) {
			_, ok, err := c.GetCredentials(context.Background(), server, role)
			if err == nil && !ok {
				mu.Lock()
				out = append(out, ms(time.Since(exp)))
				mu.Unlock()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("keyctl item %s never expired", role)
	})
	return out
}
