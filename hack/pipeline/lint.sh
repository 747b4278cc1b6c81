#!/usr/bin/env bash
# Step lint: gofmt, go vet, golangci-lint, generated code and CRD up to date.
source "$(dirname "$0")/lib.sh"
make lint
