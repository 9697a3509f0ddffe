package serverapp

import (
	"context"
	"log/slog"
	"testing"

	"github.com/jit-access/jit/pkg/config"
)

// TestReloadRotatesTheStaticAWSKeys: the STS client's credentials provider
// returns the keys of the last applied config, not those cached at start.
func TestReloadRotatesTheStaticAWSKeys(t *testing.T) {
	start := &config.Config{AWS: config.AWS{AccessKeyID: "AKIAOLD", SecretAccessKey: "old-secret"}}
	lv := &live{start: start}
	p := lv.awsProvider(start)
	c, err := p.Retrieve(context.Background())
	if err != nil || c.AccessKeyID != "AKIAOLD" || c.SecretAccessKey != "old-secret" {
		t.Fatalf("before: %+v %v", c, err)
	}
	lv.apply(&config.Config{AWS: config.AWS{AccessKeyID: "AKIANEW", SecretAccessKey: "new-secret"}}, slog.New(slog.DiscardHandler))
	c, err = p.Retrieve(context.Background())
	if err != nil || c.AccessKeyID != "AKIANEW" || c.SecretAccessKey != "new-secret" {
		t.Fatalf("after the reload: %+v %v", c, err)
	}
}
