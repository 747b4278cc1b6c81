#!/usr/bin/env bash
# Installs the Debian packages the tests need when they are missing:
# prometheus (the Prometheus analysis provider is tested against a real
# server), and for the local cluster's real nodes containerd, runc, the CNI
# plugins, iptables and conntrack. None of them is started as a service:
# the real nodes run their own containerd inside their own namespaces.
set -euo pipefail
need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v containerd >/dev/null 2>&1 || need+=(containerd)
command -v runc >/dev/null 2>&1 || need+=(runc)
[[ -x /usr/lib/cni/bridge || -x /opt/cni/bin/bridge ]] || need+=(containernetworking-plugins)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
command -v conntrack >/dev/null 2>&1 || need+=(conntrack)
# The platform chart's test image (busybox) on real nodes is the host's static busybox.
[[ -x /bin/busybox ]] || need+=(busybox-static)
# nft shows that the host's ruleset is left as it was (the host-state test).
command -v nft >/dev/null 2>&1 || need+=(nftables)
[[ ${#need[@]} -eq 0 ]] && exit 0
sudo=""
[[ $(id -u) -ne 0 ]] && sudo=sudo
echo "installing ${need[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
