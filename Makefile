SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

GO ?= go
FUZZTIME ?= 60s
# staticcheck 2026.2.2: the first releases built with (and for) Go 1.26.
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK := $(shell $(GO) env GOPATH)/bin/staticcheck

ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))

# Tests read the shared RDB corpus through $RDB_CORPUS. The path is made
# absolute because go test runs each package in its own directory.
ifeq ($(origin RDB_CORPUS),undefined)
ifneq ($(wildcard $(ROOT)/../shared/corpus),)
export RDB_CORPUS := $(abspath $(ROOT)/../shared/corpus)
endif
endif

.PHONY: all deps test lint fmt-check vet staticcheck tools demo bench fuzz soak

all: test

## deps: install redis-server (Debian's) if it is missing; tests start real servers
deps:
	@bash $(ROOT)/.ci/install-redis

## tools: install the pinned staticcheck into $(go env GOPATH)/bin if missing or another version
tools:
	@if ! [ -x "$(STATICCHECK)" ] || ! "$(STATICCHECK)" -version 2>/dev/null | grep -qF '($(STATICCHECK_VERSION:v%=%))'; then \
		echo "installing staticcheck $(STATICCHECK_VERSION)"; \
		$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION); \
	fi

fmt-check:
	@out="$$(gofmt -l $(ROOT))"; \
	if [ -n "$$out" ]; then echo "gofmt -l lists files to format:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck: tools
	$(STATICCHECK) ./...

## lint: gofmt, go vet, staticcheck
lint: fmt-check vet staticcheck

## test: lint, then every test with the race detector (needs redis-server: see deps)
test: deps lint
	$(GO) test -race -count=1 -timeout 14m ./...

demo: deps
	$(GO) run ./examples/demo

bench:
	$(GO) run ./internal/benchcmd/parsebench -size 256MB
	$(GO) test -run '^$$' -bench . -benchmem ./rdb
	$(GO) run ./internal/benchcmd/ingestbench
	$(GO) run ./internal/benchcmd/ingestbench -live -rss-gb 1

## fuzz: run each Fuzz* target of ./rdb for FUZZTIME
fuzz:
	@list="$$($(GO) test -list '^Fuzz' ./rdb)"; \
	targets="$$(grep '^Fuzz' <<<"$$list" || true)"; \
	if [ -z "$$targets" ]; then echo "no Fuzz targets in ./rdb"; exit 0; fi; \
	for f in $$targets; do \
		echo "== $$f ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) ./rdb; \
	done

soak:
	$(GO) test -tags soak -run Soak -timeout 60m ./...
