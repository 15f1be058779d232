#!/usr/bin/env bash
# Installs the Debian packages the real node of the end-to-end tests needs (docs/testing.md): containerd and
# runc run the pods, umoci and busybox-static build the one container image locally (no registry is reachable),
# containernetworking-plugins gives the CRI plugin its loopback network; mmdebstrap and umoci build the driver's
# and providers' images (scripts/images.sh). Does nothing when all are present;
# needs root to install.
set -euo pipefail

PACKAGES=(containerd runc umoci busybox-static containernetworking-plugins openssl mmdebstrap)

missing=()
for package in "${PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)"
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
((${#missing[@]} == 0)) && exit 0

echo "node-packages: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
  apt-get update >&2
  apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi
