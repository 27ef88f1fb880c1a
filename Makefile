# ari-recorder — the two commands a user needs: `make run` and `make test`.
SHELL := /bin/bash
NPM ?= npm

.PHONY: run test build bench deps typecheck clean

node_modules/.package-lock.json: package.json package-lock.json
	$(NPM) ci --no-audit --no-fund
	@touch $@

deps: node_modules/.package-lock.json

build: deps
	npx tsc -p tsconfig.json

typecheck: deps
	npx tsc -p tsconfig.json --noEmit

## The daemon with embedded defaults: local storage in ./var, a local Redis if REDIS_URL is unset, ARI at 127.0.0.1:8088.
run: build
	node dist/src/main.js

## The whole suite: typecheck, import-cycle check, unit + integration + e2e (ARI simulator, real Redis/BullMQ/UDP).
test: deps
	npx tsc -p tsconfig.json --noEmit
	npx madge --circular --extensions ts --ts-config tsconfig.json src
	npx vitest run

bench: deps
	npx tsx bench/run.ts $(ARGS)

clean:
	rm -rf dist var
