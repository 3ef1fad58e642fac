#!/usr/bin/env bash
# Installs what meshbench needs on Debian/Ubuntu: the C libraries it links (libcurl with nghttp2, libbpf), the BPF
# toolchain (clang, bpftool), the pod topology's tools (ip, iptables, nsenter), the real peers the benchmarks measure
# against (nginx, haproxy, nghttpx, caddy, wrk, h2load), a headless Chromium that checks report.html, and Python's h2 (Debian's
# python3-h2) that checks the node proxy's HTTP/2 CONNECT framing in the tests.
# Idempotent, and silent when everything is already there.
set -euo pipefail

packages=(
    pkg-config curl
    libcurl4-openssl-dev libnghttp2-dev      # load generator: libcurl multi + HTTP/2
    libbpf-dev libelf-dev bpftool clang      # eBPF paths: libbpf, and building/inspecting BPF programs
    nginx haproxy                            # reference sidecars (dataplanes/) and benchmark targets
    nghttp2-proxy caddy                      # more data planes measured as sidecars: nghttpx (C++), Caddy (Go)
    socat                                    # tests: a data plane written from the README alone
    wrk nghttp2-client                       # benchmark peers: wrk, h2load
    chromium-headless-shell                  # checks report.html in a real browser
    iproute2 iptables util-linux             # topology: pods: ip (veth, bridge), iptables (interception), nsenter
    python3-h2                               # tests: a second HTTP/2 implementation checks the node proxy's CONNECT
    valgrind linux-perf                      # profiles: callgrind's instruction counts, perf's samples (scripts/profile-*)
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v swift >/dev/null 2>&1; then
    echo "setup: swift is not on PATH; install Swift 6 first (https://www.swift.org/install/)" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
        echo "setup: missing packages (${missing[*]}) and not root; run: apt-get install ${missing[*]}" >&2
        exit 1
    fi
fi

echo "setup: installing ${missing[*]}" >&2
# Installing nginx/haproxy must not start system services on ports 80/443: hold service starts while installing,
# unless the host already has a policy in place.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    own_policy=1
fi
cleanup() { [ "$own_policy" -eq 1 ] && $sudo rm -f "$policy"; }
trap cleanup EXIT

$sudo apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# The packages enable their services; meshbench runs its own nginx/haproxy in the foreground and never needs them,
# so the ones installed just now do not start at the next boot. A host that already had them keeps its settings.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    for service in nginx haproxy nghttpx caddy; do
        if printf '%s\n' "${missing[@]}" | grep -qx "$service"; then
            $sudo systemctl disable --now "$service" >/dev/null 2>&1 || true
        fi
    done
fi
