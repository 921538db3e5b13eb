#!/usr/bin/env bash
# Installs the Debian 12 packages that building, running and testing Xoal need.
# Safe to run again: apt skips what is already there.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config git curl ca-certificates jq
  libboost1.81-all-dev libsqlite3-dev libpq-dev libcurl4-openssl-dev libssl-dev
  libhowardhinnant-date-dev zlib1g-dev libre2-dev libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev libgoogle-perftools-dev
)
if [[ "${1:-}" == "--test" ]]; then
  # nodejs brings npm; the SDK compatibility tests install their npm packages themselves.
  packages+=(python3 nodejs)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=""
  [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi
