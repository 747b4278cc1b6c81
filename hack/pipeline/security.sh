#!/usr/bin/env bash
# Step security: known vulnerabilities in dependencies (govulncheck) and in
# our code (gosec, high severity). Any finding fails the step.
source "$(dirname "$0")/lib.sh"
GOVULNCHECK_VERSION=v1.1.4
GOSEC_VERSION=v2.22.5
go run "golang.org/x/vuln/cmd/govulncheck@${GOVULNCHECK_VERSION}" ./...
go run "github.com/securego/gosec/v2/cmd/gosec@${GOSEC_VERSION}" -quiet -severity high -confidence medium -exclude-dir=hack/cluster ./...
