package server

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// ServeConfig is how the HTTP listener runs.
type ServeConfig struct {
	TLSCertFile, TLSKeyFile string
	// GetCertificate, when set, serves HTTPS with the certificate it
	// returns (swapped on reload) instead of reading the files once.
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// ShutdownGrace is how long in-flight calls get to finish [15s].
	ShutdownGrace time.Duration
}

// Serve runs the API on ln until ctx ends, then shuts down gracefully:
// waiting clients are told to retry, in-flight calls finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener, cfg ServeConfig) error {
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 15 * time.Second
	}
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      s.opts.MaxWait + 30*time.Second, // long-polls hold the response open
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if cfg.TLSCertFile != "" || cfg.GetCertificate != nil {
		hs.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: cfg.GetCertificate}
	}
	errc := make(chan error, 1)
	go func() {
		var err error
		if cfg.GetCertificate != nil {
			err = hs.ServeTLS(ln, "", "")
		} else if cfg.TLSCertFile != "" {
			err = hs.ServeTLS(ln, cfg.TLSCertFile, cfg.TLSKeyFile)
		} else {
			err = hs.Serve(ln)
		}
		errc <- err
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.BeginShutdown()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownGrace)
	defer cancel()
	err := hs.Shutdown(shutdownCtx)
	if serveErr := <-errc; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	return err
}
