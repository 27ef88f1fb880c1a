# ari-recorder — the two commands a user needs: `make run` and `make test`.
SHELL := /bin/bash
NPM ?= npm

.PHONY: run test build bench deps typecheck clean native redis-server demo sanitize

node_modules/.package-lock.json: package.json package-lock.json
	$(NPM) ci --no-audit --no-fund
	@touch $@

deps: node_modules/.package-lock.json

## Optional native addon (src/media/native): the recvmmsg RTP receiver and the slot DSP. Offline build against the local Node
## headers; NEVER fails the build: if it cannot compile, one line is printed and the mixer uses node:dgram.
NATIVE_DIR := src/media/native
NATIVE_NODE := $(NATIVE_DIR)/build/Release/ari_udp.node
native: $(NATIVE_NODE)

$(NATIVE_NODE): $(wildcard $(NATIVE_DIR)/*.c $(NATIVE_DIR)/*.h) $(NATIVE_DIR)/binding.gyp
	@gyp="$$(dirname "$$(readlink -f "$$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"; \
	nodedir="$$(dirname "$$(dirname "$$(readlink -f "$$(command -v node)")")")"; \
	if [ -f "$$gyp" ] && [ -f "$$nodedir/include/node/node_api.h" ] && \
	   node "$$gyp" rebuild --directory $(NATIVE_DIR) --nodedir="$$nodedir" >$(NATIVE_DIR)/native-build.log 2>&1; then \
	  echo "native UDP receiver built ($(NATIVE_NODE))"; \
	else \
	  echo "native UDP receiver NOT built (see $(NATIVE_DIR)/native-build.log): the mixer uses node:dgram"; \
	fi

## Debian's redis-server, installed when missing (a fresh machine): `make test` always starts its own, `make run`
## does when REDIS_URL is unset. As root, or through sudo.
redis-server:
	@if ! command -v redis-server >/dev/null 2>&1; then \
	  echo "redis-server missing: installing Debian's package"; \
	  if [ "$$(id -u)" = 0 ]; then sudo=; elif command -v sudo >/dev/null 2>&1; then sudo=sudo; \
	  else echo "install redis-server (apt-get install redis-server) or set REDIS_URL" >&2; exit 1; fi; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq redis-server; \
	  echo "redis-server installed; the system service Debian starts on 6379 is not ours: stopped and disabled"; \
	  ($$sudo systemctl disable --now redis-server || $$sudo service redis-server stop) >/dev/null 2>&1 || true; \
	fi

build: deps
	npx tsc -p tsconfig.json

typecheck: deps
	npx tsc -p tsconfig.json --noEmit

## The daemon with embedded defaults: local storage in ./var, a local Redis if REDIS_URL is unset, ARI at 127.0.0.1:8088.
run: build native
	@[ -n "$$REDIS_URL$$REDIS_CLUSTER_NODES$$REDIS_SENTINELS" ] || $(MAKE) --no-print-directory redis-server
	node dist/src/main.js

## A recording without Asterisk: the ARI simulator, the daemon and a redis-server on free loopback ports (temp dir),
## a call with 440 Hz one way and 1000 Hz the other, 5 s recorded through the API; prints the WAV (in var/demo) and
## its analysis, stops all it started. ARGS="--seconds 10 --keep --out DIR".
demo: deps native redis-server
	node --import tsx scripts/demo.ts $(ARGS)

## The whole suite: typecheck, import-cycle check, unit + integration + e2e (ARI simulator, real Redis/BullMQ/UDP).
test: deps native redis-server
	npx tsc -p tsconfig.json --noEmit
	npx madge --circular --extensions ts --ts-config tsconfig.json src
	# Three phases: tests that measure wall-clock timing (e2e: a file's length within 60 ms of the API calls; UDP
	# jitter) do not run beside the 2 h soak, which keeps both cores busy on its own.
	npx vitest run test/unit test/integration --exclude test/integration/memory-soak.test.ts
	npx vitest run test/e2e
	npx vitest run test/integration/memory-soak.test.ts

## The addon under AddressSanitizer and UBSan (it reads every datagram from the network): built beside the normal one,
## loaded through ARI_UDP_NATIVE_PATH by the tests that drive it, the sanitizers' runtimes preloaded; a report aborts
## the test's process and fails the run. Add ARI_URL=… (docs/real-asterisk.md) for the e2e suite against a real
## Asterisk. Not part of `make test`: a few minutes more.
SANITIZE_NODE := $(NATIVE_DIR)/build/Sanitize/ari_udp.node
SANITIZE_TESTS := test/unit/media test/unit/audio test/unit/mixer test/integration/native-receiver.test.ts \
  test/integration/mixer-pool.test.ts test/integration/mixer-admission.test.ts test/integration/fuzz.test.ts \
  test/integration/rtp-hijack.test.ts test/integration/jitter-sim.test.ts test/e2e
sanitize: deps redis-server
	@mkdir -p $(dir $(SANITIZE_NODE))
	nodeinc="$$(dirname "$$(dirname "$$(readlink -f "$$(command -v node)")")")/include/node"; \
	gcc -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined -ffp-contract=off \
	  -std=gnu11 -fPIC -shared -DNAPI_VERSION=8 -I"$$nodeinc" -o $(SANITIZE_NODE) $(NATIVE_DIR)/*.c -lm
	LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" ASAN_OPTIONS=detect_leaks=0 \
	  UBSAN_OPTIONS=print_stacktrace=1 ARI_UDP_NATIVE_PATH=$(abspath $(SANITIZE_NODE)) npx vitest run $(SANITIZE_TESTS)

bench: deps native
	npx tsx bench/run.ts $(ARGS)

clean:
	rm -rf dist var
