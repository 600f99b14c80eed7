#!/usr/bin/env bash
# Installs the Debian packages of the local cluster's real node (scripts/node):
#   containerd and runc           the CRI runtime the kubelet talks to (its daemon is never started by the
#                                 package: scripts/node runs containerd with a config and state of its own)
#   containernetworking-plugins   the CNI plugins bridge, host-local, loopback and portmap (/usr/lib/cni)
#   iptables, ipset, conntrack    kube-proxy's iptables mode, kube-router's NetworkPolicy chains and ipsets
#   nftables                      `nft`: the node's own guard table and the clean-up check
#   openssl                       the node's and its agents' client certificates
# Idempotent, and quick when everything is already there.
set -euo pipefail

PACKAGES=(containerd runc containernetworking-plugins iptables ipset conntrack nftables openssl)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d exit 101 keeps the packages' post-install scripts from starting containerd as a service.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod +x "$policy"
  created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT
echo "[realnode] apt-get install ${missing[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
