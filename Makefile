# zkfc: failover controller with an embedded ZooKeeper-compatible quorum.
GO        ?= go
BIN       := bin/zkfc
PKGS      := ./...
# Integration tests start real processes (Apache ZooKeeper, sshd, our
# server); they are serialised to keep a 2-core machine honest.
TEST_TIMEOUT ?= 45m
FUZZTIME  ?= 20s
# zkfc version prints these; make deb names the package after VERSION.
VERSION    ?= $(shell zkfc/packaging/version)
COMMIT     ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BUILD_DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
VERSION    := $(VERSION)
COMMIT     := $(COMMIT)
BUILD_DATE := $(BUILD_DATE)
LDFLAGS    := -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.buildDate=$(BUILD_DATE)

.PHONY: all build test unit integration bench fuzz demo demo-postgres clean vet deb deb-test

all: build

build:
	@mkdir -p bin
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./zkfc/cmd/zkfc
	$(GO) build -o bin/demo-service ./examples/demo-service

vet:
	$(GO) vet $(PKGS)

# make test: unit tests of every package, then the integration suite,
# which needs the binary built first.
test: build vet
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) -p 2 $(shell $(GO) list ./... | grep -v /integration)
	ZKFC_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout $(TEST_TIMEOUT) -p 1 ./integration/...

unit:
	$(GO) test -count=1 $(shell $(GO) list ./... | grep -v /integration)

integration: build
	ZKFC_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout $(TEST_TIMEOUT) -p 1 -v ./integration/...

# Fuzz every fuzz target for FUZZTIME each (.ci/fuzz: a run that Go's
# fuzz coordinator ends with "context deadline exceeded" and no failing
# input, go.dev/issue/75804, is tried once more).
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) .ci/fuzz

# make bench: our quorum beside Apache ZooKeeper 3.8, write outages,
# failover drills, and PostgreSQL under zkfc beside Patroni (needs
# postgresql-15, patroni, root for the cut-off fault); writes
# docs/bench/README.md and its plots. The test
# binary runs directly so its progress reaches stderr unbuffered. Knobs:
# BENCH_DURATION (per workload, default 5s), BENCH_ROUNDS (comparison
# rounds, alternating which server goes first; default 3), BENCH_RUNS (default 5),
# BENCH_ONLY=compare,outage,failover,haproxy,postgres,quorum-outage,restarts,
# BENCH_DRILLS (go test -run pattern), BENCH_PG_FAULTS (regexp of PostgreSQL
# faults), BENCH_PG_RESULTS (JSON file of earlier PostgreSQL runs to report
# with these, rewritten).
bench: build
	$(GO) test -c -o bin/bench.test ./integration/bench
	ZKFC_BIN=$(CURDIR)/$(BIN) bin/bench.test -test.run '^$$' -test.bench '^BenchmarkReport$$' -test.benchtime 1x -test.timeout 60m

# make demo: a guided failover on this machine (three zkfc, a 3-member
# embedded quorum, two example services); under a minute, cleans up.
demo: build
	examples/demo/demo.sh

# make demo-postgres: a PostgreSQL 15 primary and streaming standby under
# zkfc on this machine: the primary's machine dies, the standby takes over,
# the old primary rejoins as its standby, no acknowledged commit is lost.
# Needs postgresql-15; cleans up.
demo-postgres: build
	examples/postgresql/demo.sh

# make deb: bin/zkfc_<version>_<arch>.deb (zkfc/packaging/mkdeb).
deb:
	VERSION=$(VERSION) COMMIT=$(COMMIT) BUILD_DATE=$(BUILD_DATE) GO=$(GO) zkfc/packaging/mkdeb

# make deb-test: installs, upgrades and purges the package on THIS machine
# (as root), with lintian; .ci/run runs it. See .ci/deb-test.
deb-test:
	ZKFC_DEB_TEST=1 GO=$(GO) .ci/deb-test

clean:
	rm -rf bin
