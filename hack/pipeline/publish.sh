#!/usr/bin/env bash
# Step publish: push dist/image and both charts to the OCI registry REGISTRY
# (e.g. ghcr.io/agentic-rag). Writes image=<ref@digest> to $GITHUB_OUTPUT
# when set, for signing and provenance.
source "$(dirname "$0")/lib.sh"
: "${REGISTRY:?set REGISTRY, e.g. ghcr.io/agentic-rag}"
make chart-package >/dev/null
go run ./hack/publish --registry "$REGISTRY" --image dist/image --charts dist ${GITHUB_OUTPUT:+--output "$GITHUB_OUTPUT"}
