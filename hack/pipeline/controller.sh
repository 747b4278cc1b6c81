#!/usr/bin/env bash
# Step controller [IMAGE]: install or upgrade the ragdeploy controller chart
# (charts/ragdeploy) in CONTROLLER_NAMESPACE (default ragdeploy-system) with
# the image the build published, before the platform is deployed. Without an
# image (a run that built none) the controller is left as it is.
# CONTROLLER_SET (one a.b=c per line) overrides chart values.
source "$(dirname "$0")/lib.sh"
image="${1:-}"
if [[ -z "$image" ]]; then
  echo "no controller image given: the controller is left as it is"
  exit 0
fi
ensure_cli
extra_sets CONTROLLER_SET
exec "$RAGDEPLOY" pipeline controller --image "$image" --release-namespace "${CONTROLLER_NAMESPACE:-ragdeploy-system}" "${SETS[@]}"
