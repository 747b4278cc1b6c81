#!/usr/bin/env bash
# Step verify ENV: the release's tests (helm test) and a drift check.
source "$(dirname "$0")/lib.sh"
env="${1:?usage: verify.sh ENV}"
ensure_cli
"$RAGDEPLOY" test --env "$env"
"$RAGDEPLOY" drift --env "$env"
