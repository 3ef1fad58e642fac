#!/usr/bin/env bash
# Sidecar, ebpf and ambient side by side: scenarios/ambient.yaml (Istio's setup: HTTP/1.1, 1 kB, 1000 rps, 16
# connections; Swift and nginx sidecars with mTLS + metrics; ebpf as Cilium forwards; ambient with a node proxy per
# node and HBONE tunnels) in pods on two nodes, 5 rounds. Prints per path the p90 (median over rounds, order-statistic
# interval), the added p90 against direct in the same run (its interval), CPU and RSS per proxy (per node proxy on
# ambient), what the path added to the host's CPU, the node proxies' tunnel counters, the hops, and the ambient
# targets of issue 14. Needs root.
# Output: results/bench-ambient/<date>.txt and the run's report.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(scripts/build.sh)
work=$(mktemp -d /tmp/meshbench-bench-ambient.XXXXXX)
chmod 755 "$work"   # the sidecars run as uid 1337 in pods and must reach their files in the run folder
trap 'rm -rf "$work"' EXIT
run=$("$bin" run scenarios/ambient.yaml --out "$work" --quiet) || { echo "bench: the run failed" >&2; exit 1; }
mkdir -p results/bench-ambient
stamp=$(date -u +%Y%m%d-%H%M%S)
cp "$run/report.json" "results/bench-ambient/$stamp-report.json"
python3 - "$run/report.json" > "results/bench-ambient/$stamp.txt" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
h, s = r["host"], r["scenario"]
print("meshbench: sidecar, ebpf and ambient in pods on two nodes at Istio's setup (HTTP/1.1, 1 kB, 1000 rps, "
      "16 connections)")
print(f"host: {h['hostname']}, {h.get('cpu_model', '?')}, {h['cpus']} CPUs, kernel {h['kernel']}, cgroups {h['cgroup_layout']}")
print(f"{s['rounds']} rounds in a seeded random order each, {s['load'].get('duration')} measured after "
      f"{s['load']['warmup']} warm-up; sidecars {', '.join(s['sidecar'].get('placement') or ['?'])} with "
      f"{s['sidecar']['threads']} thread(s), node proxies on the mesh CPUs with as many")
def get(p, *keys):
    for k in keys:
        p = p.get(k) if isinstance(p, dict) else None
    return p
def ci(pair, fmt):
    return "n/a" if not pair else "[" + fmt.format(pair[0]) + " to " + fmt.format(pair[1]) + "]"
print()
print(f"  {'path':16} {'status':6} {'p90 [interval]':>24} {'added p90 [interval]':>26} {'vCPU/1k/proxy':>13} "
      f"{'RSS MiB/proxy':>13} {'host +vCPU/1k [interval]':>30}")
paths = {}
for p in r["paths"]:
    if p["status"] != "ok":
        print(f"  {p['name']:16} {p['status']:6} {p.get('reason', '')}")
        continue
    paths[p["name"]] = p
    p90 = get(p, "stats", "latency_us", "p90") or {}
    added = p.get("added_latency_us") or {}
    a = added.get("p90")
    cpu = get(p, "cpu", "mesh_vcpu_per_1000rps_per_proxy")
    rss = get(p, "memory_mib", "mesh_rss_peak_per_proxy")
    host = p.get("host_cpu") or {}
    inc = host.get("increment_vs_direct_per_1000rps")
    med = p90.get("median")
    p90_text = ("-" if med is None else f"{med:,.0f}us") + " " + ci(p90.get("ci95"), "{:,.0f}")
    print(f"  {p['name']:16} {'ok':6} {p90_text:>24} "
          f"{('-' if a is None else f'{a:+,.0f}us ' + ci(get(added, 'ci95', 'p90'), '{:+,.0f}')):>26} "
          f"{('-' if cpu is None else f'{cpu:.4f}'):>13} {('-' if rss is None else f'{rss:.1f}'):>13} "
          f"{('-' if inc is None else f'{inc:+.4f} ' + ci(host.get('increment_ci95'), '{:+.4f}')):>30}")
print()
amb = paths.get("ambient")
if amb:
    added = amb.get("added_latency_us") or {}
    a, a_ci = added.get("p90"), get(added, "ci95", "p90")
    cpu = get(amb, "cpu", "mesh_vcpu_per_1000rps_per_proxy")
    rss = get(amb, "memory_mib", "mesh_rss_peak_per_proxy")
    def verdict(ok):
        return "met" if ok else "not met"
    print("ambient targets (issue 14; benchmarks, not tests):")
    if a is not None:
        print(f"  added p90 <= 0.1 ms (Istio 1.22 ztunnel pair: 0.17 ms): {a / 1000:+.3f} ms "
              f"{ci([x / 1000 for x in a_ci] if a_ci else None, '{:+.3f}')} ({verdict(a <= 100)})")
    if cpu is not None:
        print(f"  node proxy CPU <= 0.04 vCPU per 1000 rps (Istio 1.24 ztunnel: 0.06): {cpu:.4f} per node proxy "
              f"({verdict(cpu <= 0.04)})")
    if rss is not None:
        print(f"  peak RSS per node proxy <= 12 MB (ztunnel: 12 MB): {rss:.1f} MiB = {rss * 1.048576:.1f} MB "
              f"({verdict(rss * 1.048576 <= 12)})")
    comps = get(amb, "memory_mib", "components") or {}
    for name in sorted(comps):
        if name.startswith("node-proxy"):
            c = comps[name]
            print(f"  {name}: RSS peak {c.get('rss_peak', 0):.1f} MiB (anon {c.get('rss_anon_peak', 0):.1f}, "
                  f"file {c.get('rss_file_peak', 0):.1f}), cgroup peak {c.get('cgroup_peak', 0):.1f} MiB")
    for name, c in sorted((get(amb, "network", "tunnels") or {}).items()):
        print(f"  {name}: {c['outbound_connections']} pod connections, {c['tunnel_connections']} HTTP/2 tunnel "
              f"connections, {c['streams_out']} CONNECT streams out, {c['streams_in']} in, {c['failed']} failed, "
              f"{c['denied']} denied; {c['bytes_into_tunnels']:,} bytes into tunnels, {c['bytes_out_of_tunnels']:,} out")
    print("  the waypoint (ambient.waypoint) is not built yet: no waypoint row")
print()
for name, p in paths.items():
    hops = get(p, "network", "hops")
    if hops and "/" not in name:
        print(f"hops, {name}: " + " | ".join(hops))
print()
print("added p90: median of per-round differences against direct in the same run; interval: order-statistic, n/a")
print("below 5 rounds. vCPU/1k/proxy: the proxies' cgroup CPU per 1000 rps handled, per proxy (per node proxy on")
print("ambient; ebpf: no proxy). RSS: the largest VmHWM of one proxy. host +vCPU/1k: the whole host's busy time per")
print("1000 rps minus direct's in the same round.")
PY
cat "results/bench-ambient/$stamp.txt"
echo "bench: written to results/bench-ambient/$stamp.txt" >&2
