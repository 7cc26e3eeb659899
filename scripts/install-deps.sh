#!/usr/bin/env bash
# Installs what portpool needs to build, test and run its demo on Debian 12 (run as root).
# Idempotent: when everything is already installed it changes nothing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config lld
  libboost-dev libfmt-dev
  catch2 libcli11-dev libtomlplusplus-dev nlohmann-json3-dev libbenchmark-dev
  clang clang-format clang-tidy libclang-rt-14-dev curl procps doxygen
  python3 python3-pytest python3-pytest-xdist
  # The Python package is tested as users install it: into a venv, with pip, offline.
  python3-venv python3-pip python3-setuptools python3-wheel
  # strace counts the system calls of an acquisition (ctest bench_cycle_syscall_count).
  strace
  # The optional fleet layer: an etcd v3 client over gRPC (libgrpc++-dev, libprotobuf-dev, and the
  # protoc plugin of protobuf-compiler-grpc for the generated code), and etcd itself for its tests
  # and benchmark (etcd-server; etcdctl from etcd-client sets up users and roles in the tests).
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc etcd-server etcd-client
  # `run --template` is tested with servers that read their port only from their config file
  # (nginx, haproxy, redis-server, three copies at once), and `run --forking` with daemons that fork
  # (nginx in its default daemon mode, redis-server --daemonize yes).
  nginx-light redis-server haproxy
  # UDP services under `run`: dnsmasq answers DNS on its pool port, socat echoes datagrams.
  dnsmasq-base socat
  # `run --adopt-mode seccomp` is tested with static programs, which LD_PRELOAD cannot reach: busybox
  # httpd from busybox-static, and a Go server built with CGO_ENABLED=0 (golang-go).
  busybox-static golang-go
  # The gateway's dashboard is tested in headless Chromium, driven through chromedriver.
  chromium chromium-driver
)
# Node.js and npm run the official MCP SDK client of tests/mcp (the SDK itself comes from npm, by
# ctest). A machine that already has them, from Debian or elsewhere, keeps its own.
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # The servers among these (nginx, redis-server, haproxy, etcd) are only started by the tests, each
  # on a pool port: none may start as a system service at install and take a port of its own (nginx
  # :80, redis :6379). A policy-rc.d answering 101 ("action forbidden") keeps invoke-rc.d and
  # deb-systemd-invoke from starting them; one already there (containers have it) is kept.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
