#!/usr/bin/env bash
# Step coverage gate, a ratchet: fail when the total statement coverage of a
# profile (default coverage.out) is below the floor recorded in
# hack/pipeline/coverage-floor, which holds what main measured. When coverage
# rose, say so; with COVERAGE_RATCHET=1 (make coverage) raise the floor to
# the new figure, to be committed with the change that raised it.
source "$(dirname "$0")/lib.sh"
floor_file="${COVERAGE_FLOOR_FILE:-hack/pipeline/coverage-floor}"
floor=$(tr -d '[:space:]' < "$floor_file")
total=$(go tool cover -func="${1:-coverage.out}" | awk '/^total:/ {sub("%", "", $3); print $3}')
echo "coverage ${total}% (floor ${floor}%, from ${floor_file})"
if ! awk -v t="$total" -v f="$floor" 'BEGIN { exit !(t + 0 >= f + 0) }'; then
  echo "coverage fell below the floor: add tests for what the change added" >&2
  exit 1
fi
if awk -v t="$total" -v f="$floor" 'BEGIN { exit !(t + 0 > f + 0) }'; then
  if [[ "${COVERAGE_RATCHET:-}" == 1 ]]; then
    echo "$total" > "$floor_file"
    echo "floor raised to ${total}% in ${floor_file}: commit it"
  else
    echo "coverage rose: raise the floor with make coverage (COVERAGE_RATCHET=1) and commit ${floor_file}"
  fi
fi
