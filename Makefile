# offload: the front door. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin/offload
OUT ?= out
RUN ?= $(OUT)/latest
# The charts README shows; `make charts` copies them from RUN.
README_CHARTS := spectrum-cpu.png lag-cpu.png loss-duplicates.png

.PHONY: help deps build test cross bench bench-quick lint gobench clean exercise charts docs-numbers docs-data preflight shell gen-vs-hey node-vs-model placement
# macOS as well as Linux: every `make test` vets and builds for these too.
CROSS := darwin/arm64 darwin/amd64

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

deps: ## install what the tests and the harness need (Go modules; redis-server, chromium, node and npm via apt when root; the reference servers' npm packages; on macOS it names the brew commands)
	@$(GO) mod download
	@# redis-server for the integration tests; chromium for the live page's test.
	@if [ "$$(uname -s)" = Darwin ]; then \
	  command -v redis-server >/dev/null 2>&1 || { echo "redis-server is missing: brew install redis"; exit 1; }; \
	  command -v npm >/dev/null 2>&1 || { echo "node and npm are missing: brew install node"; exit 1; }; \
	  command -v chromium >/dev/null 2>&1 || [ -x /Applications/Chromium.app/Contents/MacOS/Chromium ] \
	    || { echo "chromium is missing: brew install --cask chromium"; exit 1; }; \
	else \
	  for pkg in redis-server:redis-server chromium:chromium node:nodejs npm:npm; do \
	    cmd=$${pkg%%:*}; deb=$${pkg##*:}; \
	    command -v $$cmd >/dev/null 2>&1 && continue; \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      echo "installing $$deb with apt-get"; \
	      (apt-get install -y -qq $$deb >/dev/null 2>&1 || (apt-get update -qq >/dev/null && apt-get install -y -qq $$deb >/dev/null)) \
	        || { echo "apt-get install $$deb failed"; exit 1; }; \
	      if [ $$deb = redis-server ]; then systemctl disable --now redis-server >/dev/null 2>&1 || service redis-server stop >/dev/null 2>&1 || true; fi; \
	    else \
	      echo "$$cmd is missing: install it with 'sudo apt-get install $$deb' (on macOS: brew install redis; brew install --cask chromium)"; exit 1; \
	    fi; \
	  done; \
	fi
	@# The reference servers' pinned packages (reference/node), when the lockfile changed.
	@cmp -s reference/node/package-lock.json reference/node/node_modules/.offload-lock \
	  || { (cd reference/node && npm ci --no-audit --no-fund --loglevel=error) && cp reference/node/package-lock.json reference/node/node_modules/.offload-lock; }

build: ## build bin/offload
	@$(GO) build -o $(BIN) ./cmd/offload

test: deps ## vet (for macOS too) and run every test (integration tests start their own redis-server and processes)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	@$(MAKE) --no-print-directory cross
	$(GO) test -count=1 -timeout 14m ./...

cross: ## vet and build for macOS (darwin/arm64, darwin/amd64) from any machine
	@for p in $(CROSS); do \
	  echo "GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) vet ./... && $(GO) build ./..."; \
	  GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) vet ./... && GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build ./... || exit 1; \
	done

preflight: ## is this machine ready for the workshop? Go, redis-server, chromium, curl, free ports, module cache
	@bash scripts/preflight.sh

shell: build ## a shell with bin/ on PATH (open one per terminal; exit leaves it)
	@echo "offload: $(CURDIR)/bin is on PATH in this shell; exit to leave it"
	@PATH="$(CURDIR)/bin:$$PATH" OFFLOAD_SHELL=1 exec "$${SHELL:-/bin/bash}" -i

bench: deps build ## run the load harness over all strategies and scenarios; report in out/
	$(BIN) bench --out $(OUT)

bench-quick: deps build ## every strategy through every scenario with short phases (about 2 minutes)
	$(BIN) bench --quick --out $(OUT)

gobench: deps ## run the Go micro-benchmarks (loop, accept path, queue, mail)
	$(GO) test -run '^$$' -bench . -benchtime 2s ./...

gen-vs-hey: build ## benchmark the bench's load generator against rakyll/hey: CPU per request and rate kept, as ratios
	$(BIN) gen-vs-hey $(ARGS)

node-vs-model: deps build ## the talk's programs on real Node beside offload's node loop model, same CPUs and sink; writes docs/data/node-vs-model.json (about 6 minutes)
	$(BIN) node-vs-model $(ARGS)

placement: deps build ## the quick bench under --cpus off, 0/1 and 1/0: what the default split is chosen by; writes docs/data/placement.json (about 5 minutes)
	$(BIN) placement $(ARGS)

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

exercise: build ## check a workshop exercise: make exercise N=3 (docs/workshop/)
	@test -n "$(N)" || { echo "usage: make exercise N=<1-8>   (exercises: $(BIN) exercise list)"; exit 2; }
	@$(BIN) exercise check $(N) $(ARGS)

charts: build ## refresh README's charts in docs/img/ from a bench: make charts RUN=out/latest
	@test -f "$(RUN)/results.json" || { echo "no $(RUN)/results.json: run make bench first, or give RUN=out/<run>"; exit 1; }
	$(BIN) report $(RUN)
	@mkdir -p docs/img
	cp $(addprefix $(RUN)/,$(README_CHARTS)) docs/img/

docs-numbers: ## fill the measured numbers of README.md and docs/ from docs/data/results.json
	$(GO) run ./docs/numbers

docs-data: ## curate a bench into docs/data/ and refill the docs' numbers: make docs-data RUN=out/<run>
	@test -f "$(RUN)/results.json" || { echo "no $(RUN)/results.json: run make bench first, or give RUN=out/<run>"; exit 1; }
	$(GO) run ./docs/numbers -curate $(RUN) $(if $(COMMIT),-commit $(COMMIT))

clean: ## remove bin/ and out/
	rm -rf bin $(OUT)
