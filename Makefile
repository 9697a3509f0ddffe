# jit's developer entry points. `make test` is what CI runs (.ci/run).
SHELL := /usr/bin/env bash
GO ?= go
export PATH := $(PATH):/usr/local/go/bin

PKG := github.com/jit-access/jit/pkg/build
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo none)
DATE ?= $(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X $(PKG).Version=$(VERSION) -X $(PKG).Commit=$(COMMIT) -X $(PKG).Date=$(DATE)

.PHONY: all deps test lint unit build demo bench docs clean

all: build

## deps: install the test peers and tools (apt packages, podman, MinIO, goreleaser); idempotent
deps:
	bash scripts/deps.sh

## test: gofmt, go vet, staticcheck, goreleaser check and go test -race against real PostgreSQL, keyring, OIDC, MinIO
test: deps
	bash scripts/test.sh

## lint: the static checks alone (gofmt, go vet, staticcheck); no test peers, no deps.sh
lint:
	bash scripts/lint.sh

## unit: the tests that need no peer (go test -short -race): every test that needs PostgreSQL, MinIO,
## node, a browser or a built jit binary skips by name (testenv.SkipPeerInShortMode); make test runs all
unit:
	DBUS_SESSION_BUS_ADDRESS=disabled: CI= $(GO) test -short -race -count=1 ./...

## build: a static bin/jit stamped with version, commit and date
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/jit .

## demo: the local sandbox tour (dev OIDC provider, server, MinIO); installs only MinIO and the AWS CLI
demo: build
	bash scripts/deps.sh demo
	PATH="$${JIT_TOOLS_BIN:-$$HOME/.cache/jit-tools/bin}:$$PATH" bin/jit dev --tour

## bench: the side-by-side suite (credential-process vs floor vs aws-vault, server cycle,
## expiry/revocation, growth, a simulated day); writes docs/benchmarks.md (~8 min)
bench: deps
	bash internal/bench/run.sh

## docs: regenerate docs/ and completions/
docs:
	$(GO) run ./internal/gendocs

clean:
	rm -rf bin
