#!/usr/bin/env bash
# Where the Swift sidecar's CPU goes: runs the sidecar pair (HTTP/1.1, 1 kB, mTLS and metrics) in closed loop on
# loopback, samples the outbound sidecar with `perf record -g` for 5 s in the middle of the measured window, and
# prints its CPU split into the kernel, the Swift runtime (retain/release, exclusivity checks, generic metadata
# lookups), SwiftNIO, BoringSSL (NIOSSL), the allocator and the sidecar's own code, then the top symbols by self
# time. Root (cgroups, perf).
#
# Usage: scripts/profile-proxy-cpu.sh [LABEL]   (writes results/profiles/<stamp>-proxy-cpu[-LABEL].txt)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/lab-run.sh
label=${1:+-$1}
bin=$(scripts/build.sh)
work=$(mktemp -d /tmp/meshbench-profile-cpu.XXXXXX)
trap 'rm -rf "$work"' EXIT
start_sidecar_run max 12s
sleep 6
pid=$(outbound_sidecar_pid)
[ -n "$pid" ] || { echo "profile: no outbound sidecar in the lab's cgroup v2 tree (root?)" >&2; exit 1; }
perf record -F 999 -g -p "$pid" -o "$work/perf.data" -- sleep 5 > /dev/null 2>&1
wait "$runner"
mkdir -p results/profiles
out="results/profiles/$(date -u +%Y%m%d-%H%M%S)-proxy-cpu$label.txt"
perf report -i "$work/perf.data" --no-children --sort symbol --stdio 2>/dev/null > "$work/report.txt"
python3 - "$work/report.txt" "$(cat "$work/run-dir")/report.json" > "$out" <<'PY'
import json, re, sys
rows = []
for line in open(sys.argv[1]):
    m = re.match(r"\s+([0-9.]+)%\s+\[(.)\]\s+(.*?)\s*$", line)
    if m:
        rows.append((float(m.group(1)), m.group(2), m.group(3)))
def group(kind, sym):
    if kind == "k": return "kernel (TCP, loopback, epoll, scheduling)"
    if re.match(r"swift_(retain|release|bridgeObject|unknownObject)|swift_isUniquelyReferenced", sym): return "Swift runtime: reference counting"
    if re.match(r"swift_(beginAccess|endAccess)|swift::runtime::AccessSet", sym): return "Swift runtime: exclusivity checks"
    if "swift_getWitnessTable" in sym or "MetadataCacheKey" in sym or "getCache" in sym or "GenericMetadata" in sym or "swift_getGeneric" in sym: return "Swift runtime: generic metadata lookups"
    if sym.startswith("swift") or "swift::" in sym: return "Swift runtime: other"
    if re.search(r"(malloc|free|_int_malloc|_int_free|cfree|realloc)", sym): return "allocator (glibc malloc)"
    if "7Sidecar" in sym or "7LabHTTP" in sym: return "the sidecar's own code (Sidecar, LabHTTP)"
    if "NIOSSL" in sym or re.match(r"(ssl|SSL|tls|bssl|aes|gcm|sha|EVP|CRYPTO|BN_|ec_|x25519|chacha|poly1305)", sym, re.I): return "TLS (NIOSSL, BoringSSL)"
    if "NIO" in sym or "llhttp" in sym: return "SwiftNIO (NIOCore, NIOPosix, NIOHTTP1)"
    if re.search(r"memmove|memcpy|memset|memcmp", sym): return "memory copies (libc)"
    if re.match(r"\$s", sym): return "Swift standard library and other Swift code"
    return "other (libc, unresolved)"
totals = {}
for pct, kind, sym in rows:
    g = group(kind, sym)
    totals[g] = totals.get(g, 0) + pct
r = json.load(open(sys.argv[2]))
p = [x for x in r["paths"] if x["name"] == "sidecar"][0]
print("meshbench-proxy CPU profile: outbound sidecar, closed loop, 16 connections, HTTP/1.1, 1 kB, mTLS + metrics")
print(f"perf record -F 999 -g for 5 s in the measured window; {len(rows)} symbols; run: {p['achieved_rps']:.0f} rps, "
      f"{(p.get('cpu') or {}).get('mesh_vcpu_per_1000rps_per_proxy', 0):.4f} vCPU per 1000 rps per proxy")
print()
print("share of the outbound sidecar's samples:")
for g, v in sorted(totals.items(), key=lambda kv: -kv[1]):
    print(f"  {v:5.1f}%  {g}")
print()
print("top 30 symbols by self time:")
for pct, kind, sym in rows[:30]:
    print(f"  {pct:5.2f}%  [{kind}] {sym[:150]}")
PY
cat "$out"
echo "profile: written to $out" >&2
