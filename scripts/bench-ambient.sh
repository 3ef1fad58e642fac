#!/usr/bin/env bash
# Sidecar, ebpf and ambient side by side: scenarios/ambient.yaml (Istio's setup: HTTP/1.1, 1 kB, 1000 rps, 16
# connections; Swift and nginx sidecars with mTLS + metrics; ebpf as Cilium forwards; ambient with a node proxy per
# node and HBONE tunnels, with and without an L7 waypoint) in pods on two nodes, 5 rounds. The CPU time the
# hypervisor took from this VM (steal) during the run is printed: a noisy neighbour shows there. Prints per path the p90 (median over rounds, order-statistic
# interval), the added p90 against direct in the same run (its interval), CPU and RSS per proxy (per node proxy on
# ambient), what the path added to the host's CPU, the node proxies' tunnel counters, the hops, and the ambient
# targets of issue 14. Needs root.
# Output: results/bench-ambient/<date>.txt and the run's report.json.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/lab-run.sh
bin=$(scripts/build.sh)
work=$(mktemp -d /tmp/meshbench-bench-ambient.XXXXXX)
chmod 755 "$work"   # the sidecars run as uid 1337 in pods and must reach their files in the run folder
trap 'rm -rf "$work"' EXIT
before=$(steal)
run=$("$bin" run scenarios/ambient.yaml --out "$work" --quiet) || { echo "bench: the run failed" >&2; exit 1; }
after=$(steal)
mkdir -p results/bench-ambient
stamp=$(date -u +%Y%m%d-%H%M%S)
cp "$run/report.json" "results/bench-ambient/$stamp-report.json"
python3 - "$run/report.json" "$before" "$after" > "results/bench-ambient/$stamp.txt" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
(s0, t0), (s1, t1) = [tuple(map(int, a.split())) for a in sys.argv[2:4]]
h, s = r["host"], r["scenario"]
print("meshbench: sidecar, ebpf and ambient in pods on two nodes at Istio's setup (HTTP/1.1, 1 kB, 1000 rps, "
      "16 connections)")
print(f"host: {h['hostname']}, {h.get('cpu_model', '?')}, {h['cpus']} CPUs, kernel {h['kernel']}, cgroups {h['cgroup_layout']}")
print(f"{s['rounds']} rounds in a seeded random order each, {s['load'].get('duration')} measured after "
      f"{s['load']['warmup']} warm-up; sidecars {', '.join(s['sidecar'].get('placement') or ['?'])} with "
      f"{s['sidecar']['threads']} thread(s), node proxies and waypoint on the mesh CPUs with as many")
print(f"steal (CPU time the hypervisor gave to others) during the run: {100 * (s1 - s0) / max(1, t1 - t0):.1f}% of this VM's CPU time")
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
amb, way = paths.get("ambient"), paths.get("ambient+waypoint")
swift = paths.get("sidecar")
def verdict(value, target):
    return "met" if value <= target else "not met"
if amb:
    added = amb.get("added_latency_us") or {}
    a, a_ci = added.get("p90"), get(added, "ci95", "p90")
    cpu = get(amb, "cpu", "per_role_vcpu_per_1000rps_per_proxy", "node_proxy")
    rss = get(amb, "memory_mib", "per_role_rss_peak_per_proxy", "node_proxy")
    print("ambient targets (issue 14; benchmarks, not tests):")
    if a is not None:
        shown = ci([x / 1000 for x in a_ci] if a_ci else None, "{:+.3f}")
        note = ""
        if a <= 100 and a_ci and a_ci[1] > 100:
            note = ", but the interval reaches above 0.1 ms: not shown to be met"
        print(f"  added p90 <= 0.1 ms (Istio 1.22 ztunnel pair: 0.17 ms): {a / 1000:+.3f} ms {shown} "
              f"({verdict(a, 100)}{note})")
    if cpu is not None:
        print(f"  node proxy CPU <= 0.04 vCPU per 1000 rps (Istio 1.24 ztunnel: 0.06): {cpu:.4f} per node proxy "
              f"({verdict(cpu, 0.04)})")
    if rss is not None:
        print(f"  peak RSS per node proxy <= 12 MB (ztunnel: 12 MB): {rss:.1f} MiB = {rss * 1.048576:.1f} MB "
              f"({verdict(rss * 1.048576, 12)})")
if way:
    wcpu = get(way, "cpu", "per_role_vcpu_per_1000rps_per_proxy", "waypoint")
    scpu = get(swift, "cpu", "mesh_vcpu_per_1000rps_per_proxy") if swift else None
    wrss = get(way, "memory_mib", "per_role_rss_peak_per_proxy", "waypoint")
    if wcpu is not None and scpu is not None:
        print(f"  waypoint CPU <= the Swift sidecar's in the same run: {wcpu:.4f} vs {scpu:.4f} vCPU per 1000 rps per "
              f"proxy ({verdict(wcpu, scpu)}; Istio 1.24 waypoint: 0.25)")
    if wrss is not None:
        print(f"  waypoint RSS peak: {wrss:.1f} MiB (Istio 1.24 waypoint: 60 MB)")
for name in ("ambient", "ambient+waypoint"):
    p = paths.get(name)
    if not p:
        continue
    comps = get(p, "memory_mib", "components") or {}
    for c_name in sorted(comps):
        if c_name.startswith("node-proxy") or c_name == "waypoint":
            c = comps[c_name]
            print(f"  {name}, {c_name}: RSS peak {c.get('rss_peak', 0):.1f} MiB (anon {c.get('rss_anon_peak', 0):.1f}, "
                  f"file {c.get('rss_file_peak', 0):.1f}), cgroup peak {c.get('cgroup_peak', 0):.1f} MiB")
    for c_name, c in sorted((get(p, "network", "tunnels") or {}).items()):
        print(f"  {name}, {c_name}: {c['outbound_connections']} pod connections, {c['tunnel_connections']} HTTP/2 "
              f"tunnel connections, {c['streams_out']} CONNECT streams out, {c['streams_in']} in, {c['failed']} "
              f"failed, {c['denied']} denied; {c['bytes_into_tunnels']:,} bytes into tunnels, "
              f"{c['bytes_out_of_tunnels']:,} out")
print()
for name, p in paths.items():
    hops = get(p, "network", "hops")
    if hops and "/" not in name:
        print(f"hops, {name}: " + " | ".join(hops))
print()
print("added p90: median of per-round differences against direct in the same run; interval: order-statistic, n/a")
print("below 5 rounds. vCPU/1k/proxy: the proxies' cgroup CPU per 1000 rps handled, per proxy (per node proxy on")
print("ambient, the node proxies and the waypoint together; per kind above; ebpf: no proxy). RSS: the largest VmHWM")
print("of one proxy. host +vCPU/1k: the whole host's busy time per 1000 rps minus direct's in the same round.")
PY
cat "results/bench-ambient/$stamp.txt"
echo "bench: written to results/bench-ambient/$stamp.txt" >&2
