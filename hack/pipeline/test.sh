#!/usr/bin/env bash
# Step test: make test (unit, integration on the local cluster, e2e, the
# pipeline rehearsal), writing coverage.out for the coverage gate; coverage
# counts every package a test exercises (60.8% when the gate was set).
source "$(dirname "$0")/lib.sh"
make test TEST_FLAGS="-count=1 -p 2 -timeout 45m -coverpkg=./api/...,./internal/... -coverprofile=coverage.out"
