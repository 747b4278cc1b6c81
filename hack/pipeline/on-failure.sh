#!/usr/bin/env bash
# Step on-failure ENV: abort the rollout in flight (traffic stays on the last
# good color) and notify RAGDEPLOY_NOTIFY_WEBHOOK.
source "$(dirname "$0")/lib.sh"
env="${1:?usage: on-failure.sh ENV}"
ensure_cli
"$RAGDEPLOY" pipeline abort --env "$env" --reason "${REASON:-a pipeline step failed}"
