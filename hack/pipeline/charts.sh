#!/usr/bin/env bash
# Step charts: strict lint of both charts per environment, schema cases,
# packaging; deploy/kubernetes/ (the golden files) must match the charts.
source "$(dirname "$0")/lib.sh"
go test -count=1 ./internal/render/ ./internal/envconfig/
make manifests >/dev/null
git diff --exit-code -- deploy/kubernetes || { echo "deploy/kubernetes is stale: run make manifests and commit"; exit 1; }
make chart-package
