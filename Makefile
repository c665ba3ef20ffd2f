# fibcache — the commands people run. See README.md.
SWIFT ?= swift
PYTHON ?= python3

.PHONY: all build build-release run stop status deps test test-deps test-unit test-integration clean

all: build

build:
	$(SWIFT) build

build-release:
	$(SWIFT) build -c release

## One command: install what is missing, build, start Redis + fibcache + nginx on 127.0.0.1:8001.
run: deps build-release
	scripts/local-stack start

stop:
	scripts/local-stack stop

status:
	scripts/local-stack status

deps:
	scripts/install-deps runtime

## One command: every test (unit, then integration against real redis-server and nginx).
test: test-deps test-unit test-integration

test-deps:
	scripts/install-deps test

test-unit:
	$(SWIFT) test

test-integration: build
	scripts/pytest Tests/Integration

clean:
	rm -rf .build .run
