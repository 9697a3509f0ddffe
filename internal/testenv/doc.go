// Package testenv starts the real peers jit's tests run against (the OIDC
// provider, PostgreSQL, MinIO for STS and S3, keyrings) on 127.0.0.1, stops
// them when the test ends, and fails loudly, naming the install command,
// when one is missing.
//
// It is the one test harness of the module (internal: only tests import it):
//   - peers: OIDC and OIDCProvider (IdPs), Postgres, MinIO, StartJitServer;
//   - one rule for a missing peer, MissingPeer: it fails under CI=true
//     (.ci/run sets it) and skips elsewhere, both naming the install command;
//   - the test policy, Policy with the shared roles (ReadOnly, ProdAdmin,
//     TwoMan, OnCall, Idle) adjusted by Role.With and Role.Without;
//   - people: DeviceToken and IDTokens log users in through the real device
//     flow; User is a person's isolated CLI environment (pkg/clienv) that
//     runs the jit binary and logs in as a person would;
//   - time: Clock for servers under test, Eventually for waiting on what
//     another goroutine or process does.
package testenv
