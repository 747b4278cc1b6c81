# Shared by the pipeline step scripts: strict mode, repository root, the CLI.
# Each step script is what .github/workflows/*.yml and .gitlab-ci.yml run, so
# a step behaves the same in either CI and on a laptop.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
RAGDEPLOY="${RAGDEPLOY:-bin/ragdeploy}"

# ensure_cli builds bin/ragdeploy unless RAGDEPLOY points at a binary.
ensure_cli() {
  if [[ ! -x "$RAGDEPLOY" ]]; then
    make build >&2
  fi
}

# extra_sets turns RAGDEPLOY_SET (one a.b=c per line), or the variable
# named by its argument, into --set flags.
extra_sets() {
  local var="${1:-RAGDEPLOY_SET}"
  SETS=()
  while IFS= read -r line; do
    [[ -n "$line" ]] && SETS+=(--set "$line")
  done <<< "${!var:-}"
}
