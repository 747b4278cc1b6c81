# ragdeploy — make targets. `make demo` and `make test` are the two a new user needs.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c

GO        ?= go
CACHE_DIR ?= $(or $(RAGDEPLOY_CACHE_DIR),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/ragdeploy)
export RAGDEPLOY_CACHE_DIR := $(CACHE_DIR)

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X github.com/agentic-rag/ragdeploy/internal/cli.Version=$(VERSION) \
           -X github.com/agentic-rag/ragdeploy/internal/cli.Commit=$(COMMIT)

GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(CACHE_DIR)/tools/golangci-lint-$(GOLANGCI_LINT_VERSION)/golangci-lint
CONTROLLER_GEN_VERSION := v0.23.0
CONTROLLER_GEN := $(CACHE_DIR)/tools/controller-gen-$(CONTROLLER_GEN_VERSION)/controller-gen

# Test packages run two at a time (each starts its own local cluster).
TEST_FLAGS ?= -count=1 -p 2 -timeout 30m

.PHONY: all build deps cluster-bin test lint generate check-generated manifests chart-package demo demo-down bench clean help pipeline-rehearsal image sbom vuln coverage

all: build

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/ragdeploy (static: the local cluster runs it as the controller image too)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/ragdeploy ./cmd/ragdeploy

cluster-bin: ## build the control-plane binaries (cached by their pins; ~8 min once) and the real nodes' image binaries (bin/node)
	@hack/cluster/build.sh >/dev/null
	@CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o bin/node/ ./hack/nodebin/pause ./hack/nodebin/api
	@hack/coredns/build.sh

deps: ## install the Debian packages the tests need (prometheus; containerd, runc, CNI plugins, iptables, conntrack for real nodes)
	@hack/install-deps.sh

test: deps cluster-bin ## unit, integration (real local cluster) and end-to-end tests
	$(GO) test $(TEST_FLAGS) ./...

PLATFORMS ?= linux/amd64
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)

image: ## the controller image as an OCI layout (dist/image) and tarball, reproducible, without Docker
	$(GO) run ./hack/image --platforms $(PLATFORMS) --version $(VERSION) --commit $(COMMIT) --created $(SOURCE_DATE_EPOCH)

pipeline-rehearsal: deps cluster-bin ## run cd.yml's deploy jobs through hack/pipeline against a local cluster (part of make test)
	$(GO) test -count=1 -v -run TestPipelineRehearsal ./test/pipeline

lint: $(GOLANGCI_LINT) check-generated ## gofmt, go vet, golangci-lint, generated files up to date
	@unformatted=$$(gofmt -l $$(find . -name '*.go' -not -path './bin/*' -not -path './.ragdeploy/*')); \
	  if [[ -n "$$unformatted" ]]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GOLANGCI_LINT) run ./...
	@echo "gosec (in golangci-lint): 0 unexcused findings; $$(grep -rn --include='*.go' 'nolint:gosec' --exclude-dir=.ragdeploy --exclude-dir=bin . | wc -l) excused inline, each with its reason"
	hack/pipeline/manifest-scan.sh

CYCLONEDX_GOMOD_VERSION := v1.10.0
CYCLONEDX_GOMOD := $(CACHE_DIR)/tools/cyclonedx-gomod-$(CYCLONEDX_GOMOD_VERSION)/cyclonedx-gomod

sbom: $(CYCLONEDX_GOMOD) ## CycloneDX SBOM of the ragdeploy binary (dist/sbom.cdx.json), offline
	@mkdir -p dist
	CGO_ENABLED=0 GOOS=linux GOARCH=$(or $(GOARCH),amd64) $(CYCLONEDX_GOMOD) app -json -licenses -output dist/sbom.cdx.json -main cmd/ragdeploy . 2>/dev/null
	@echo "dist/sbom.cdx.json: $$(grep -c '"bom-ref"' dist/sbom.cdx.json) components"

$(CYCLONEDX_GOMOD):
	GOBIN=$(dir $@) $(GO) install github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@$(CYCLONEDX_GOMOD_VERSION)

vuln: ## known vulnerabilities in the dependencies (govulncheck; needs its online database)
	@hack/pipeline/vuln.sh

coverage: deps cluster-bin ## make test with coverage, then the ratcheting coverage gate (hack/pipeline/coverage-floor)
	hack/pipeline/test.sh
	COVERAGE_RATCHET=1 hack/pipeline/coverage-gate.sh coverage.out

$(GOLANGCI_LINT):
	GOBIN=$(dir $@) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

$(CONTROLLER_GEN):
	GOBIN=$(dir $@) $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)

generate: $(CONTROLLER_GEN) ## regenerate deepcopy code and the CRD from api/
	$(CONTROLLER_GEN) object paths=./api/...
	$(CONTROLLER_GEN) crd:crdVersions=v1,generateEmbeddedObjectMeta=true paths=./api/... output:crd:artifacts:config=charts/ragdeploy/crds
	hack/gateway-api-crds.sh > internal/localcluster/addons/gateway-api-crds.yaml

check-generated: generate ## fail when generated files differ from what is committed
	@git diff --exit-code -- 'api/*/zz_generated.*.go' charts/ragdeploy/crds internal/localcluster/addons/gateway-api-crds.yaml || { echo "generated files are stale: run make generate and commit"; exit 1; }

demo: build cluster-bin deps ## local cluster (a real node where it can run), a blue-green rollout, a broken release rolled back, a canary
	@bin/ragdeploy local up --real-nodes 1 || { echo "make demo: no real node (see above); falling back to kwok nodes only"; bin/ragdeploy local up; }
	$(GO) run ./hack/demo --kubeconfig .ragdeploy/local/kubeconfig
	@echo
	@echo "The local cluster keeps running:  export KUBECONFIG=$(CURDIR)/.ragdeploy/local/kubeconfig"
	@echo "Stop it with:                     make demo-down"

demo-down: build ## stop the local cluster and remove its state
	bin/ragdeploy local down

bench: build cluster-bin ## run the benchmarks in bench/ and print their figures
	$(GO) run ./bench/localcluster
	$(GO) run ./bench/realnode
	$(GO) run ./bench/rollout
	$(GO) run ./bench/drift
	$(GO) run ./bench/release
	$(GO) run ./bench/zerodowntime

manifests: ## render deploy/kubernetes/<env>/ from charts/agentic-rag and environments/
	$(GO) run ./hack/manifests

chart-package: ## package both charts as versioned .tgz files under dist/
	$(GO) run ./hack/chartpkg dist

clean: ## remove build output (not the cached control-plane binaries)
	rm -rf bin dist
