#!/usr/bin/env bash
# Step credentials: write the cluster's kubeconfig from KUBECONFIG_DATA (a
# CI secret) to a private file and export KUBECONFIG for later steps. With no
# KUBECONFIG_DATA the current KUBECONFIG is kept (local runs, the rehearsal).
source "$(dirname "$0")/lib.sh"
if [[ -z "${KUBECONFIG_DATA:-}" ]]; then
  echo "no KUBECONFIG_DATA: using KUBECONFIG=${KUBECONFIG:-~/.kube/config}"
  exit 0
fi
file="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/kubeconfig"
(umask 077 && printf '%s\n' "$KUBECONFIG_DATA" > "$file")
if [[ -n "${GITHUB_ENV:-}" ]]; then
  echo "KUBECONFIG=$file" >> "$GITHUB_ENV"
fi
echo "wrote $file"
