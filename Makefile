# fibcache — the commands people run. See README.md.
SWIFT ?= swift
PYTHON ?= python3
# TLS to Redis where hiredis has its TLS library (1.x) and OpenSSL's headers are here
# (Package.swift; in the environment so that SwiftPM's cached manifest follows it).
export FIBCACHE_TLS ?= $(shell pkg-config --exists hiredis_ssl 2>/dev/null && [ -e /usr/include/openssl/ssl.h ] && echo 1 || echo 0)

.PHONY: all build build-release build-static run stop reproduce status deps test test-deps lint format test-unit test-integration test-browser test-fuzz test-system test-trixie test-faults fuzz-fastcgi test-cluster deb test-deb bench bench-defaults bench-cluster install uninstall clean

all: build

build:
	$(SWIFT) build

build-release:
	$(SWIFT) build -c release

# The deployable binary: the Swift runtime linked in, so a host needs only the C libraries;
# full RELRO and immediate binding, as Debian hardens its binaries (debian/rules: the same).
build-static:
	$(SWIFT) build -c release --static-swift-stdlib --scratch-path .build-static -Xlinker -z -Xlinker relro -Xlinker -z -Xlinker now

## One command: install what is missing, build, start Redis + fibcache + nginx on 127.0.0.1:8001.
run: deps build-release
	scripts/local-stack start

stop:
	scripts/local-stack stop

## The article's four numbers, measured in a headless browser on the page `make run` serves.
reproduce:
	scripts/install-deps test
	@py=$(PYTHON); $$py -c 'import selenium' 2>/dev/null || py=/usr/bin/python3; $$py scripts/reproduce-article

status:
	scripts/local-stack status

deps:
	scripts/install-deps runtime

## One command: every test (unit, then integration against real redis-server and nginx,
## then the demo page in a headless Chromium).
test: test-deps lint test-unit test-integration test-browser test-fuzz

test-deps:
	scripts/install-deps test

# SwiftPM's import check (an import of a target not reachable through the declared
# dependencies fails the build), then the tests.
test-unit:
	$(SWIFT) build --build-tests --explicit-target-dependency-import-check error
	$(SWIFT) test --skip-build

## Guard rails: Package.swift declares every module each target imports (not one that reaches
## it through another target); the Swift sources are as `swift format` writes them (.swift-format;
## `make format` rewrites them so).
lint:
	scripts/check-imports
	$(SWIFT) format lint --strict --recursive Sources Tests Benchmarks Package.swift

format:
	$(SWIFT) format format --in-place --recursive Sources Tests Benchmarks Package.swift

test-integration: build
	scripts/pytest Tests/Integration

## The demo page (www/) driven in Debian's headless Chromium; screenshots land in test-artifacts/.
test-browser: build
	PYTEST_NEEDS=selenium scripts/pytest Tests/Browser

## The API fuzzed against www/openapi.json by schemathesis (PyPI, pinned; installed into .build-fuzz/venv).
test-fuzz: build
	scripts/pytest Tests/Fuzz

## The Debian package, with Debian's tools (debian/: dh, dh_installsystemd), into dist/:
## fibcache_<version>_<arch>.deb for the release this machine runs, then lintian on it.
deb:
	scripts/install-deps deb
	scripts/build-deb

## The package's lifecycle (install, upgrade under load, remove, purge, reinstall) in a fresh
## systemd box (root).
test-deb: build-static
	scripts/install-deps deb
	scripts/test-deb

## Deploy on this machine with systemd (as root): binary, units, Redis and nginx configuration.
## Uses BINARY (default: the static build, made first if missing).
BINARY ?= .build-static/release/fibcache
install:
	@[ -x "$(BINARY)" ] || $(MAKE) build-static
	scripts/install install "$(BINARY)"

uninstall:
	scripts/install uninstall

## Speed and memory in one run: fibcache (kept and plain) beside the nginx ceiling, nginx's
## fastcgi_cache and a C libfcgi responder, at 32/256/1024 connections (see BENCHMARKS.md).
bench:
	scripts/install-deps bench
	$(SWIFT) build -c release --product fibcache
	$(SWIFT) build -c release --product ComputeBenchmark
	$(SWIFT) build -c release --product HitPathBenchmark
	@$(PYTHON) -c 'import matplotlib' 2>/dev/null || $(PYTHON) -m pip install --quiet matplotlib || true
	$(PYTHON) bench/run.py

## The deployed defaults (--workers, the site's keepalive) against their neighbours (bench/defaults.py).
bench-defaults:
	scripts/install-deps bench
	$(SWIFT) build -c release --product fibcache
	$(PYTHON) bench/defaults.py

## Hits through one Redis beside a three-primary Redis Cluster, and the cache's memory sizing (bench/cluster.py).
bench-cluster:
	scripts/install-deps bench
	$(SWIFT) build -c release --product fibcache
	$(PYTHON) bench/cluster.py

## Breaking things on purpose: malformed FastCGI, Redis killed/frozen/refusing during load,
## a bounded soak (the static release binary the package ships: built once for this, test-system
## and test-deb; RSS before/after) and a valgrind run of the C interop paths.
test-faults: build build-static
	scripts/install-deps faults
	scripts/pytest Tests/Faults -s

## The FastCGI request validator under libFuzzer and the address sanitizer, checked against libfcgi,
## from the committed seed corpus (Tests/FuzzFastCGI/corpus) for FUZZ_SECONDS (default 75).
fuzz-fastcgi:
	scripts/install-deps runtime
	scripts/fuzz-fastcgi

## Several fibcache hosts behind one nginx, Redis with a replica and three Sentinels, each "host"
## a loopback address of its own: failover, a frozen host, evictions across hosts, a stampede.
test-cluster: build
	scripts/install-deps faults
	scripts/pytest Tests/Cluster -s

## The units, install step and restarts, proven in a real systemd (systemd-box; needs root).
test-system: build-static
	scripts/pytest Tests/System

## The same on the newer generation (Debian 13: hiredis 1.2, Redis 8, nginx 1.26; like Ubuntu 24.04):
## build, make test, then the system tests, inside a trixie systemd-box (needs root).
test-trixie:
	scripts/test-trixie

clean:
	rm -rf .build .build-static .build-trixie .run
