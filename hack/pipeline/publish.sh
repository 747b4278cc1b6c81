#!/usr/bin/env bash
# Step publish: push dist/image and both charts to the OCI registry REGISTRY
# (e.g. ghcr.io/agentic-rag), with the CycloneDX SBOM (make sbom) attached to
# the image as an OCI artifact (its referrer). Credentials: the Docker config, or
# REGISTRY_USER and REGISTRY_PASSWORD. Appends image=<ref@digest> and
# digest=<digest> to $GITHUB_OUTPUT when set, for signing and provenance.
source "$(dirname "$0")/lib.sh"
: "${REGISTRY:?set REGISTRY, e.g. ghcr.io/agentic-rag}"
make chart-package >/dev/null
make sbom >/dev/null
args=(--registry "$REGISTRY" --image dist/image --charts dist --sbom dist/sbom.cdx.json)
[[ -n "${GITHUB_OUTPUT:-}" ]] && args+=(--output "$GITHUB_OUTPUT")
if [[ -n "${REGISTRY_PASSWORD:-}" ]]; then
  go run ./hack/publish "${args[@]}" --username "${REGISTRY_USER:?set REGISTRY_USER}" --password-stdin <<< "$REGISTRY_PASSWORD"
else
  go run ./hack/publish "${args[@]}"
fi
