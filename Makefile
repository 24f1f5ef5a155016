# clusterlink — `make help` lists the targets.
GO        ?= go
BIN       ?= bin/clusterlink
PKGS      := ./...

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-18s %s\n", $$1, $$2}'

.PHONY: build
build: ## Build the clusterlink binary into bin/
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/clusterlink

.PHONY: demo
demo: ## Run the embedded demo: two in-process clusters, a link, data flowing (no Kafka install needed)
	$(GO) run ./cmd/clusterlink demo

.PHONY: kafka-jars
kafka-jars: ## Resolve the pinned Apache Kafka broker jars with mvn (the integration tests need them)
	$(GO) run ./integration/kafkatest/cmd/kafkajars

.PHONY: test
test: kafka-jars ## Unit tests and integration tests against real Kafka brokers (needs Java 17+ and Maven)
	$(GO) test -count=1 -timeout 25m $(PKGS)

.PHONY: test-short
test-short: ## Only the tests that need no broker (in-process kfake clusters), under a minute
	$(GO) test -short -count=1 -timeout 5m $(PKGS)

.PHONY: test-testcontainers
test-testcontainers: ## The integration tests with brokers from testcontainers (needs a Docker engine)
	CLUSTERLINK_TEST_BACKEND=testcontainers $(GO) test -count=1 -timeout 25m ./integration/...

.PHONY: fuzz
fuzz: ## Fuzz the parsers that handle secrets, FUZZTIME each (default 30s): no error may show a planted secret
	@for t in FuzzJAASErrorsNeverShowTheSecret FuzzLinkConfigErrorsNeverShowTheSecret FuzzDaemonFileErrorsNeverShowTheSecret; do \
		$(GO) test -run XXX -fuzz "^$$t$$" -fuzztime $${FUZZTIME:-30s} ./config || exit 1; done

.PHONY: vet
vet: ## go vet and gofmt check
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt needed"; exit 1; }

.PHONY: bench
bench: kafka-jars ## clusterlink vs MirrorMaker 2 vs the ingest limit, latency, ceiling (BENCH_ARGS=-quick for minutes)
	$(GO) run ./integration/bench $(BENCH_ARGS)

.PHONY: docker
docker: ## Build the container image
	docker build -t clusterlink:dev .
