#!/bin/bash
# Installs the Debian 12 packages vpcd needs to build, run, test and benchmark.
# Used by both README commands and by .ci/run, so all three agree.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: run as root (apt-get needs it)" >&2
	exit 1
fi
pkgs=(
	# build
	build-essential cmake pkg-config clang llvm
	libnl-3-dev libnl-route-3-dev libmnl-dev libnftnl-dev libbpf-dev libjansson-dev
	libelf-dev zlib1g-dev libclang-rt-14-dev bpftool
	# run: nothing beyond the libraries above
	# tests and benchmarks: real tools to send and inspect traffic
	iproute2 iputils-ping netcat-openbsd socat iperf3 nftables iptables tcpdump
	procps psmisc python3 util-linux kmod
)
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
echo "install-deps: ok"
