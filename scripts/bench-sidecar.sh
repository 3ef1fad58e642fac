#!/usr/bin/env bash
# The sidecar benchmark at Istio's setup (scenarios/istio-reference.yaml): direct, and the Swift sidecar, nginx,
# haproxy, nghttpx and Caddy as sidecar pairs (each from its definition in dataplanes/) in the same topology, in
# interleaved rounds of one run. Prints added latency against
# direct (p50/p90/p99), vCPU per 1000 rps per proxy and peak memory per proxy, checks them against the targets, and
# commits nothing by itself: the text report and report.json land in results/bench-sidecar/.
#
# Environment: SCENARIO (default scenarios/istio-reference.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/lab-run.sh
scenario=${SCENARIO:-scenarios/istio-reference.yaml}
bin=$(scripts/build.sh)
work=$(mktemp -d /tmp/meshbench-bench-sidecar.XXXXXX)
trap 'rm -rf "$work"' EXIT
# What the hypervisor took from this VM during the run (steal): a noisy neighbour shows there.
before=$(steal)
run_dir=$("$bin" run "$scenario" --out "$work" --quiet) || { echo "bench: the run failed; see $work" >&2; exit 1; }
after=$(steal)
mkdir -p results/bench-sidecar
stamp=$(date -u +%Y%m%d-%H%M%S)
cp "$run_dir/report.json" "results/bench-sidecar/$stamp-report.json"
python3 - "$run_dir/report.json" "$before" "$after" > "results/bench-sidecar/$stamp.txt" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
(s0, t0), (s1, t1) = [tuple(map(int, a.split())) for a in sys.argv[2:4]]
s, h = r["scenario"], r["host"]
print(f"meshbench sidecar benchmark: {s['name']} ({s.get('description', '')})")
print(f"host: {h['hostname']}, {h.get('cpu_model', '?')}, {h['cpus']} CPUs, kernel {h['kernel']}, cgroups {h['cgroup_layout']}")
print(f"load: {s['load']['qps']} rps open loop, {s['load']['connections']} connections, {s['load']['protocol']}, "
      f"{s['load']['response_size']} B responses, {s['load'].get('duration')} + {s['load']['warmup']} warm-up, "
      f"{s['rounds']} interleaved rounds; sidecar features {s['sidecar']['features']}"
      + (f" and, where the data plane has them, {s['sidecar']['optional_features']}" if s['sidecar'].get('optional_features') else "")
      + f", hops {s['sidecar']['hops']}, {s['sidecar']['threads']} thread(s) per proxy")
print(f"steal (CPU time the hypervisor gave to others) during the run: {100 * (s1 - s0) / max(1, t1 - t0):.1f}% of this VM's CPU time")
print()
paths = {p["name"]: p for p in r["paths"]}
direct = paths.get("direct")
hdr = f"{'path':18} {'rps':>7} {'p50':>7} {'p90':>7} {'p99':>8} {'+p50':>7} {'+p90 [interval]':>22} {'+p99':>8} {'vCPU/1k/proxy':>13} {'peak MB/proxy':>13} {'RSS MB/proxy':>12} {'errors':>6}"
print(hdr)
for p in r["paths"]:
    if p["status"] != "ok":
        print(f"{p['name']:18} {p['status']}: {p.get('reason', '')}")
        continue
    l = p["latency_us"]
    a = p.get("added_latency_us") or {}
    cpu = (p.get("cpu") or {}).get("mesh_vcpu_per_1000rps_per_proxy")
    mem = (p.get("memory_mb") or {}).get("mesh_peak")
    rss = (p.get("memory_mb") or {}).get("mesh_rss_peak")
    f = lambda v: "-" if v is None else f"{v:,.0f}us"
    g = lambda v: "-" if v is None else f"{v:+,.0f}us"
    iv = (a.get("ci95") or {}).get("p90")
    p90 = g(a.get("p90")) + (f" [{iv[0]:+,.0f}, {iv[1]:+,.0f}]" if iv else "")
    print(f"{p['name']:18} {p['achieved_rps']:7.1f} {f(l['p50']):>7} {f(l['p90']):>7} {f(l['p99']):>8} "
          f"{g(a.get('p50')):>7} {p90:>22} {g(a.get('p99')):>8} "
          f"{('-' if cpu is None else f'{cpu:.4f}'):>13} {('-' if mem is None else f'{mem:.1f}'):>13} "
          f"{('-' if rss is None else f'{rss:.1f}'):>12} "
          f"{p['errors']:>6}")
intervals = [p.get("added_latency_us", {}).get("estimate") for p in r["paths"] if p.get("added_latency_us")]
if intervals:
    print(f"added latency: {intervals[0]}")
print()
print("data planes (binary, version, definition):")
for name, d in sorted((s.get("dataplanes") or {}).items()):
    print(f"  {name:8} {d['binary']} {d.get('version') or '(built from this repository)'} ({d['file'].split('/')[-1]}; features {', '.join(d['features'])})")
print()
print("per component (vCPU over the windows; peak MB):")
for p in r["paths"]:
    if p["status"] != "ok" or not p.get("cpu"):
        continue
    comps = p["cpu"]["components"]
    mems = (p.get("memory_mb") or {}).get("components", {})
    def mb(v): return "-" if v is None else f"{v:.1f}"
    parts = [f"{n} {c['vcpu']:.4f} vCPU / {mb((mems.get(n) or {}).get('peak'))} MB cgroup, "
             f"{mb((mems.get(n) or {}).get('rss_peak'))} MB RSS" for n, c in sorted(comps.items())]
    print(f"  {p['name']:18} " + "; ".join(parts) + f"; host softirq {p['cpu'].get('host_softirq_s', 0):.2f}s")
    stats = (p.get("network") or {}).get("proxy_stats")
    if stats:
        print(f"  {'':18} the proxy's own counters, all rounds, warm-ups, readiness probes and reads included: "
              + "; ".join(f"{c} " + ", ".join(f"{k} {int(v)}" for k, v in sorted(vals.items())) for c, vals in sorted(stats.items())))
print()
swift, nginx = paths.get("sidecar"), paths.get("sidecar/nginx")
def get(p, *keys):
    for k in keys:
        p = (p or {}).get(k)
    return p
if swift and swift["status"] == "ok":
    cpu = get(swift, "cpu", "mesh_vcpu_per_1000rps_per_proxy")
    mem = get(swift, "memory_mb", "mesh_peak")
    p90 = get(swift, "added_latency_us", "p90")
    checks = [("Swift sidecar vCPU per 1000 rps per proxy <= 0.05 (Istio 1.8-1.16: 0.35; 1.24: 0.20)", cpu, lambda v: v <= 0.05, "{:.4f}"),
              ("Swift sidecar peak MB per proxy <= 15 (Istio: 40-60)", mem, lambda v: v <= 15, "{:.1f}"),
              ("added p90 for the pair <= 0.1 ms (Istio 1.8-1.16: +2.65 ms)", p90, lambda v: v <= 100, "{:+.0f}us")]
    if nginx and nginx["status"] == "ok":
        n_cpu = get(nginx, "cpu", "mesh_vcpu_per_1000rps_per_proxy")
        n_p90 = get(nginx, "added_latency_us", "p90")
        if cpu is not None and n_cpu:
            checks.append(("Swift CPU <= 1.2x nginx's (ratio)", cpu / n_cpu, lambda v: v <= 1.2, "{:.2f}"))
        if p90 is not None and n_p90 and n_p90 > 0:
            checks.append(("Swift added p90 <= 1.2x nginx's (ratio)", p90 / n_p90, lambda v: v <= 1.2, "{:.2f}"))
    print("targets:")
    for name, value, ok, fmt in checks:
        verdict = "n/a" if value is None else ("met" if ok(value) else "NOT met")
        shown = "-" if value is None else fmt.format(value)
        print(f"  {name}: {shown} -> {verdict}")
print()
print("Added latency is this path's corrected latency minus direct's, from the same run. vCPU comes from each")
print("component's cgroup over the load's lifetime (warm-up included, at the same rate); per proxy = the mesh's")
print("components divided by their count. Memory: the cgroup's peak (v1 max_usage_in_bytes / v2 memory.peak: anon")
print("memory plus page cache first touched by the proxy, as container metrics count it) and the process's peak")
print("resident set (VmHWM, shared library pages included).")
PY
cat "results/bench-sidecar/$stamp.txt"
echo "bench: written to results/bench-sidecar/$stamp.txt (report: $stamp-report.json)" >&2
