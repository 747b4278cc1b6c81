#!/usr/bin/env bash
# Step security: known vulnerabilities in the dependencies (govulncheck,
# online; see vuln.sh). gosec and the manifest scan (kube-score) run offline
# in make lint, so every machine runs them.
source "$(dirname "$0")/lib.sh"
hack/pipeline/vuln.sh
