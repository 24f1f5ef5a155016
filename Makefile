# clusterlink — `make help` lists the targets.
GO        ?= go
BIN       ?= bin/clusterlink
PKGS      := ./...

# What `clusterlink version` and clusterlink_build_info show. The date is the commit's, so a build is reproducible.
VERSION   ?= $(shell git describe --tags --dirty 2>/dev/null || echo dev-$$(git describe --always --dirty 2>/dev/null || echo unknown))
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE      ?= $(shell git log -1 --format=%cI 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)
PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; \
		{ name[NR] = $$1; help[NR] = $$2; if (length($$1) > w) w = length($$1) } \
		END { for (i = 1; i <= NR; i++) printf "  %-*s  %s\n", w, name[i], help[i] }'

.PHONY: build
build: ## Build bin/clusterlink, stamped with version, commit and date
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/clusterlink

.PHONY: release
release: ## Static binaries for linux and darwin, amd64 and arm64, into dist/ with SHA256SUMS
	@rm -rf dist && mkdir -p dist
	@for p in $(PLATFORMS); do os=$${p%/*}; arch=$${p#*/}; out=dist/clusterlink-$(VERSION)-$$os-$$arch; \
		echo "  $$out"; CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $$out ./cmd/clusterlink || exit 1; \
	done
	@cd dist && sha256sum clusterlink-* > SHA256SUMS && cat SHA256SUMS

.PHONY: demo
demo: ## The embedded demo: in-process clusters, a link, a promote (DEMO_ARGS=--keep keeps it up)
	$(GO) run ./cmd/clusterlink demo $(DEMO_ARGS)

.PHONY: brokers
brokers: kafka-jars ## Two real local Kafka brokers, localhost:9092 and :9093, for the README config; Ctrl-C stops them
	@$(GO) build -o bin/brokers ./integration/kafkatest/cmd/brokers
	bin/brokers $(BROKERS_ARGS)

.PHONY: kafka-jars
kafka-jars: ## Resolve the pinned Apache Kafka broker jars with mvn (the integration tests need them)
	$(GO) run ./integration/kafkatest/cmd/kafkajars

.PHONY: test
test: kafka-jars ## Unit and integration tests against real Kafka brokers (Java 17+, Maven), and deploy/ checks
	$(GO) test -count=1 -timeout 25m $(PKGS)
	$(MAKE) --no-print-directory check-deploy

.PHONY: check-deploy
check-deploy: ## The Helm chart rendered and validated, compose and systemd files, alert rules (own Go module)
	cd deploy/check && $(GO) test -count=1 ./...

.PHONY: test-short
test-short: ## Only the tests that need no broker (in-process kfake clusters), under a minute
	$(GO) test -short -count=1 -timeout 5m $(PKGS)

.PHONY: test-browser
test-browser: ## Only the web console's browser tests (headless Chromium; screenshots in controlplane/console/screenshots)
	$(GO) test -count=1 -run 'TestConsole|TestLinkForm' -v ./controlplane/console

.PHONY: test-testcontainers
test-testcontainers: ## The integration tests with brokers from testcontainers (needs a Docker engine)
	CLUSTERLINK_TEST_BACKEND=testcontainers $(GO) test -count=1 -timeout 25m ./integration/...

.PHONY: fuzz
fuzz: ## Fuzz the parsers that handle secrets, FUZZTIME each (default 30s): no error may show a planted secret
	@for t in FuzzJAASErrorsNeverShowTheSecret FuzzLinkConfigErrorsNeverShowTheSecret FuzzDaemonFileErrorsNeverShowTheSecret FuzzStoreErrorsNeverShowTheSecret; do \
		$(GO) test -run XXX -fuzz "^$$t$$" -fuzztime $${FUZZTIME:-30s} ./config || exit 1; done

.PHONY: vet
vet: ## go vet and gofmt check
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt needed"; exit 1; }

.PHONY: bench
bench: kafka-jars ## clusterlink vs MirrorMaker 2 vs the ingest limit, latency, ceiling (BENCH_ARGS=-quick for minutes)
	$(GO) run ./integration/bench $(BENCH_ARGS)

.PHONY: docker
docker: ## Build the container image, stamped like make build
	docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) --build-arg DATE=$(DATE) -t clusterlink:$(VERSION) .
