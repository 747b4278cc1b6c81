#!/usr/bin/env bash
# Step deploy ENV [TAG]: upgrade (or install) the environment to api version
# TAG (default: the environment file's) and see the blue-green rollout through; with PROMOTE=1 a rollout that
# waits for manual promotion is promoted (the approval came before this
# step). On failure the rollout is aborted and RAGDEPLOY_NOTIFY_WEBHOOK told.
source "$(dirname "$0")/lib.sh"
env="${1:?usage: deploy.sh ENV [TAG]}" tag="${2:-}"
ensure_cli
extra_sets
args=(pipeline deploy --env "$env")
[[ -n "$tag" ]] && args+=(--image-tag "$tag")
[[ "${PROMOTE:-}" == 1 ]] && args+=(--promote)
exec "$RAGDEPLOY" "${args[@]}" "${SETS[@]}"
