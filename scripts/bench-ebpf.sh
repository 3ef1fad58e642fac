#!/usr/bin/env bash
# The data paths side by side: direct, the Swift sidecar pair (mTLS + metrics), the sidecarless eBPF path, and the
# sidecars with sockmap-shortcut hops — at Istio's setup (scenarios/mesh-paths.yaml: HTTP/1.1, 1 kB, 1000 rps,
# 16 connections) and in closed loop (scenarios/mesh-paths-closed.yaml), each one run of 5 rounds in a seeded
# random order. Prints added latency vs direct with its interval, mesh vCPU per 1000 rps, what each path added to
# the whole host's CPU against direct (with its interval), proxies' RSS and the BPF maps' capacity and entries,
# redirect misses, and checks the targets. Needs root. Output: results/bench-ebpf/<date>.txt and the two report.json files.
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
def get(p, *keys):
    for k in keys:
        p = p.get(k) if isinstance(p, dict) else None
    return p
def us(v): return "-" if v is None else f"{v:,.0f}us"
def sus(v): return "-" if v is None else f"{v:+,.0f}us"
def ci(pair, fmt):
    return "n/a" if not pair else "[" + fmt.format(pair[0]) + "-" + fmt.format(pair[1]) + "]"
for title, r in (("open loop: 1000 rps, 16 connections, HTTP/1.1, 1 kB", opened),
                 ("closed loop: max rate, 16 connections, HTTP/1.1, 1 kB", closed)):
    s = r["scenario"]
    print()
    print(f"{title}; {s['rounds']} rounds in a seeded random order each, {s['load'].get('duration')} measured after "
          f"{s['load']['warmup']} warm-up")
    print("  p90: median over rounds [order-statistic interval]; added p90: median of per-round differences vs direct;")
    print("  host +vCPU/1k: what the path added to the whole host per 1000 rps vs direct in the same rounds")
    print(f"  {'path':14} {'rps':>9} {'p90 [interval]':>22} {'added p90 [interval]':>26} {'mesh vCPU/1k':>12} "
          f"{'host +vCPU/1k [interval]':>28} {'RSS MiB/proxy':>13} {'maps KiB':>9} {'entries':>8} {'misses':>7}")
    for p in r["paths"]:
        if p["status"] != "ok":
            print(f"  {p['name']:14} {p['status']}: {p.get('reason', '')}")
            continue
        p90 = get(p, "stats", "latency_us", "p90") or {}
        added = p.get("added_latency_us") or {}
        added_ci = get(added, "ci95", "p90")
        host = p.get("host_cpu") or {}
        inc = host.get("increment_vs_direct_per_1000rps")
        cpu = get(p, "cpu", "mesh_vcpu_per_1000rps")
        rss = get(p, "memory_mib", "mesh_rss_peak_per_proxy")
        mem = get(p, "bpf", "maps_memlock_bytes")
        used = get(p, "bpf", "maps_entries_in_use")
        print(f"  {p['name']:14} {p['achieved_rps']:9.1f} "
              f"{(us(p90.get('median')) + ' ' + ci(p90.get('ci95'), '{:,.0f}')):>22} "
              f"{('-' if added.get('p90') is None else sus(added['p90']) + ' ' + ci(added_ci, '{:+,.0f}')):>26} "
              f"{('-' if cpu is None else f'{cpu:.4f}'):>12} "
              f"{('-' if inc is None else f'{inc:+.4f} ' + ci(host.get('increment_ci95'), '{:+.4f}')):>28} "
              f"{('-' if rss is None else f'{rss:.1f}'):>13} "
              f"{('-' if mem is None else f'{sum(mem.values()) / 1024:.0f}'):>9} "
              f"{('-' if used is None else str(sum(used.values()))):>8} "
              f"{str(get(p, 'bpf', 'misses') if get(p, 'bpf') else '-'):>7}")
        if host.get("warning"):
            print(f"  {'':14} warning: {host['warning']}")
o = {p["name"]: p for p in opened["paths"]}
print()
print("targets (open loop):")
direct, ebpf, side, sebpf = o.get("direct"), o.get("ebpf"), o.get("sidecar"), o.get("sidecar-ebpf")
def check(name, value, ok, fmt, note=""):
    verdict = "n/a" if value is None else ("met" if ok(value) else "NOT met")
    print(f"  {name}: {'-' if value is None else fmt.format(value)} -> {verdict}{note}")
if direct and ebpf and ebpf["status"] == "ok":
    d, e = get(direct, "stats", "latency_us", "p50", "median"), get(ebpf, "stats", "latency_us", "p50", "median")
    check("ebpf p50 <= 0.97x direct (ratio of the round medians)", None if not d or e is None else e / d,
          lambda v: v <= 0.97, "{:.3f}")
    check("ebpf programs' CPU <= 0.005 vCPU per 1000 rps", get(ebpf, "cpu", "mesh_vcpu_per_1000rps"),
          lambda v: v <= 0.005, "{:.5f}", " (program run time only; the host increment above is the whole cost)")
    check("ebpf redirect misses == 0", get(ebpf, "bpf", "misses"), lambda v: v == 0, "{}")
if side and sebpf and sebpf["status"] == "ok" and side["status"] == "ok":
    for q in ("p50", "p90"):
        a, b = get(sebpf, "added_latency_us", q), get(side, "added_latency_us", q)
        check(f"sidecar-ebpf added {q} below sidecar's (sidecar-ebpf - sidecar)", None if a is None or b is None else a - b,
              lambda v: v < 0, "{:+.0f}us", " (a difference of medians, no interval)")
    check("sidecar-ebpf redirect misses == 0", get(sebpf, "bpf", "misses"), lambda v: v == 0, "{}")
c = {p["name"]: p for p in closed["paths"]}
if c.get("direct") and c["direct"]["status"] == "ok":
    print()
    print("closed loop: throughput relative to direct (medians over rounds) and host CPU per 1000 rps:")
    base = get(c["direct"], "stats", "achieved_rps", "median") or c["direct"]["achieved_rps"]
    for name, p in c.items():
        if p["status"] == "ok":
            rps = get(p, "stats", "achieved_rps", "median") or p["achieved_rps"]
            hv = get(p, "host_cpu", "non_idle_vcpu_per_1000rps")
            print(f"  {name:14} {rps / base:.3f}x  host {('-' if hv is None else f'{hv:.4f}')} vCPU/1k")
print()
print("mesh vCPU: the sidecars' cgroup CPU; for ebpf the programs' own run_time_ns (BPF stats on for the run), which")
print("excludes the data move a redirect triggers after the program returns (that runs in the sender's system call).")
print("host +vCPU/1k is the figure that counts it: the whole host's busy time (the scheduler's run time of every task)")
print("per 1000 rps, minus direct's in the same round, median over rounds with its order-statistic interval.")
print("maps KiB: the kernel's memlock charge (preallocated capacity) of the maps the path uses; entries: keys in use")
print("at the end of the window (socket storage not countable). RSS: the largest VmHWM of one proxy.")
PY
cat "results/bench-ebpf/$stamp.txt"
echo "bench: written to results/bench-ebpf/$stamp.txt" >&2
