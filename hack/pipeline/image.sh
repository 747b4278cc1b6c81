#!/usr/bin/env bash
# Step image: the controller image as an OCI layout in dist/image, for the
# platforms in PLATFORMS (default linux/amd64). Prints the digest.
source "$(dirname "$0")/lib.sh"
make image PLATFORMS="${PLATFORMS:-linux/amd64}"
