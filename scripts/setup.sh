#!/usr/bin/env bash
# Installs every Debian 12 package husk needs (build, unit tests, end-to-end tests,
# benchmarks), then configures and builds into build/. Idempotent: apt is skipped
# when every package is already installed, and cmake only rebuilds what changed.
#
#   bash scripts/setup.sh              # from anywhere
#   BUILD_DIR=/tmp/b bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  # build
  build-essential cmake pkg-config git ca-certificates
  libseccomp-dev libcap-dev nlohmann-json3-dev libfmt-dev libcli11-dev
  libcurl4-openssl-dev libssl-dev libarchive-dev libisal-dev libzstd-dev liblzma-dev zlib1g-dev
  libtomlplusplus-dev libyaml-cpp-dev
  # unit tests
  libgtest-dev libgmock-dev
  # end-to-end tests: runtimes to compare with, engines that drive huskrun, tools
  busybox-static runc crun podman containerd uidmap
  jq bats python3 tar coreutils util-linux bsdutils iproute2 procps
  # image tests: a real registry (plain, and htpasswd + TLS), peers to cross-check with
  docker-registry apache2-utils openssl skopeo umoci gzip zstd attr curl
  # husk build: apt repository signatures, fixture .debs, the Debian keyring
  gnupg gpgv dpkg-dev xz-utils debian-archive-keyring
  # benchmarks
  hyperfine time mmdebstrap
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=()
  if [[ $(id -u) != 0 ]]; then sudo=(sudo); fi
  "${sudo[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${PACKAGES[@]}"
else
  echo "setup: all ${#PACKAGES[@]} packages installed"
fi

BUILD_DIR=${BUILD_DIR:-build}
cmake -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$BUILD_DIR" -j"$(nproc)"
