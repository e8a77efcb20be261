# offload: the front door. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin/offload
OUT ?= out
RUN ?= $(OUT)/latest
# The charts README shows; `make charts` copies them from RUN.
README_CHARTS := spectrum-cpu.png lag-cpu.png loss-duplicates.png

.PHONY: help deps build test bench bench-quick lint gobench clean exercise charts docs-numbers docs-data

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

deps: ## install what the tests and the harness need (Go modules; redis-server and chromium via apt when root)
	@$(GO) mod download
	@if ! command -v redis-server >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing redis-server with apt-get"; \
	    (apt-get install -y -qq redis-server >/dev/null 2>&1 || (apt-get update -qq >/dev/null && apt-get install -y -qq redis-server >/dev/null)) \
	      || { echo "apt-get install redis-server failed"; exit 1; }; \
	    systemctl disable --now redis-server >/dev/null 2>&1 || service redis-server stop >/dev/null 2>&1 || true; \
	  else \
	    echo "redis-server is missing: install it with 'sudo apt-get install redis-server'"; exit 1; \
	  fi; \
	fi
	@# The live page's test drives Debian's headless Chromium.
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium with apt-get"; \
	    (apt-get install -y -qq chromium >/dev/null 2>&1 || (apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null)) \
	      || { echo "apt-get install chromium failed"; exit 1; }; \
	  else \
	    echo "chromium is missing: install it with 'sudo apt-get install chromium'"; exit 1; \
	  fi; \
	fi

build: ## build bin/offload
	@$(GO) build -o $(BIN) ./cmd/offload

test: deps ## vet and run every test (integration tests start their own redis-server and processes)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 14m ./...

bench: deps build ## run the load harness over all strategies and scenarios; report in out/
	$(BIN) bench --out $(OUT)

bench-quick: deps build ## every strategy through every scenario with short phases (about 2 minutes)
	$(BIN) bench --quick --out $(OUT)

gobench: deps ## run the Go micro-benchmarks (loop, accept path, queue, mail)
	$(GO) test -run '^$$' -bench . -benchtime 2s ./...

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
