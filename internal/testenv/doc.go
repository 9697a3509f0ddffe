// Package testenv starts the real peers jit's tests run against (the OIDC
// provider, PostgreSQL, MinIO for STS and S3, keyrings) on 127.0.0.1, stops
// them when the test ends, and fails loudly, naming the install command,
// when one is missing.
package testenv
