#!/usr/bin/env bash
# The data paths side by side: direct, the Swift sidecar pair (mTLS + metrics), the sidecarless eBPF path, and the
# sidecars with sockmap-shortcut hops — at Istio's setup (scenarios/mesh-paths.yaml: HTTP/1.1, 1 kB, 1000 rps,
# 16 connections) and in closed loop (scenarios/mesh-paths-closed.yaml), each one interleaved run. Prints added
# latency vs direct, mesh vCPU per 1000 rps, proxies' RSS and the BPF maps' memlock, redirect hits and misses, and
# checks the targets. Needs root. Output: results/bench-ebpf/<date>.txt and the two report.json files.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(scripts/build.sh)
work=$(mktemp -d /tmp/meshbench-bench-ebpf.XXXXXX)
trap 'rm -rf "$work"' EXIT
open_dir=$("$bin" run scenarios/mesh-paths.yaml --out "$work" --quiet) || { echo "bench: open-loop run failed" >&2; exit 1; }
closed_dir=$("$bin" run scenarios/mesh-paths-closed.yaml --out "$work" --quiet) || { echo "bench: closed-loop run failed" >&2; exit 1; }
mkdir -p results/bench-ebpf
stamp=$(date -u +%Y%m%d-%H%M%S)
cp "$open_dir/report.json" "results/bench-ebpf/$stamp-open-report.json"
cp "$closed_dir/report.json" "results/bench-ebpf/$stamp-closed-report.json"
python3 - "$open_dir/report.json" "$closed_dir/report.json" > "results/bench-ebpf/$stamp.txt" <<'PY'
import json, sys
opened, closed = (json.load(open(p)) for p in sys.argv[1:3])
h = opened["host"]
print("meshbench data paths: direct, sidecar (Swift, mTLS + metrics), ebpf, sidecar-ebpf")
print(f"host: {h['hostname']}, {h.get('cpu_model', '?')}, {h['cpus']} CPUs, kernel {h['kernel']}, cgroups {h['cgroup_layout']}")
def paths(r): return {p["name"]: p for p in r["paths"]}
def get(p, *keys):
    for k in keys:
        p = (p or {}).get(k)
    return p
def us(v): return "-" if v is None else f"{v:,.0f}us"
def sus(v): return "-" if v is None else f"{v:+,.0f}us"
for title, r in (("open loop: 1000 rps, 16 connections, HTTP/1.1, 1 kB", opened),
                 ("closed loop: max rate, 16 connections, HTTP/1.1, 1 kB", closed)):
    s = r["scenario"]
    print()
    print(f"{title}; {s['rounds']} interleaved rounds of {s['load'].get('duration')} + {s['load']['warmup']} warm-up")
    print(f"  {'path':14} {'status':8} {'rps':>9} {'p50':>8} {'p90':>8} {'p99':>8} {'+p50':>8} {'+p90':>8} {'+p99':>8} "
          f"{'mesh vCPU/1k':>12} {'proxy RSS MB':>12} {'maps KB':>8} {'redirects':>10} {'misses':>7}")
    for p in r["paths"]:
        if p["status"] != "ok":
            print(f"  {p['name']:14} {p['status']}: {p.get('reason', '')}")
            continue
        l, a = p["latency_us"], p.get("added_latency_us") or {}
        cpu = get(p, "cpu", "mesh_vcpu_per_1000rps")
        rss = get(p, "memory_mb", "mesh_rss_peak")
        mem = get(p, "bpf", "maps_memlock_bytes")
        maps = None if mem is None else sum(mem.values()) / 1024
        print(f"  {p['name']:14} {'ok':8} {p['achieved_rps']:9.1f} {us(l['p50']):>8} {us(l['p90']):>8} {us(l['p99']):>8} "
              f"{sus(a.get('p50')):>8} {sus(a.get('p90')):>8} {sus(a.get('p99')):>8} "
              f"{('-' if cpu is None else f'{cpu:.4f}'):>12} {('-' if rss is None else f'{rss:.1f}'):>12} "
              f"{('-' if maps is None else f'{maps:.0f}'):>8} {str(get(p, 'bpf', 'redirects') or '-'):>10} "
              f"{str(get(p, 'bpf', 'misses') if get(p, 'bpf') else '-'):>7}")
o = paths(opened)
print()
print("targets (open loop):")
direct, ebpf, side, sebpf = o.get("direct"), o.get("ebpf"), o.get("sidecar"), o.get("sidecar-ebpf")
def check(name, value, ok, fmt):
    print(f"  {name}: {'-' if value is None else fmt.format(value)} -> {'n/a' if value is None else ('met' if ok(value) else 'NOT met')}")
if direct and ebpf and ebpf["status"] == "ok":
    check("ebpf p50 <= 0.97x direct (ratio)", ebpf["latency_us"]["p50"] / direct["latency_us"]["p50"], lambda v: v <= 0.97, "{:.3f}")
    check("ebpf mesh CPU <= 0.005 vCPU per 1000 rps", get(ebpf, "cpu", "mesh_vcpu_per_1000rps"), lambda v: v <= 0.005, "{:.5f}")
    check("ebpf redirect misses == 0", get(ebpf, "bpf", "misses"), lambda v: v == 0, "{}")
if side and sebpf and sebpf["status"] == "ok" and side["status"] == "ok":
    for q in ("p50", "p90"):
        check(f"sidecar-ebpf added {q} below sidecar's (sidecar-ebpf - sidecar)",
              get(sebpf, "added_latency_us", q) - get(side, "added_latency_us", q), lambda v: v < 0, "{:+.0f}us")
    check("sidecar-ebpf redirect misses == 0", get(sebpf, "bpf", "misses"), lambda v: v == 0, "{}")
c = paths(closed)
if c.get("direct") and c["direct"]["status"] == "ok":
    print()
    print("closed loop throughput relative to direct:")
    for name, p in c.items():
        if p["status"] == "ok":
            print(f"  {name:14} {p['achieved_rps'] / c['direct']['achieved_rps']:.3f}x")
print()
print("mesh vCPU: the sidecars' cgroup CPU; for ebpf the programs' own run_time_ns (BPF stats on for the run), which")
print("excludes the data move a redirect triggers after the program returns (that is in the sender's syscall, i.e.")
print("in the components' cgroup CPU, listed in report.json). Maps KB: the kernel's memlock charge for the maps.")
PY
cat "results/bench-ebpf/$stamp.txt"
echo "bench: written to results/bench-ebpf/$stamp.txt" >&2
