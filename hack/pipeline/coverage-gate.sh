#!/usr/bin/env bash
# Step coverage gate: fail when total statement coverage of coverage.out is
# below COVERAGE_MIN percent.
source "$(dirname "$0")/lib.sh"
min="${COVERAGE_MIN:-55}"
total=$(go tool cover -func="${1:-coverage.out}" | awk '/^total:/ {sub("%", "", $3); print $3}')
echo "coverage ${total}% (minimum ${min}%)"
awk -v t="$total" -v m="$min" 'BEGIN { exit !(t + 0 >= m + 0) }'
