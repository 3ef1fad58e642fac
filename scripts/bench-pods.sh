#!/usr/bin/env bash
# The pod topology's cost: scenarios/pods.yaml (Istio's setup: HTTP/1.1, 1 kB, 1000 rps, 16 connections, mTLS +
# metrics; Swift, nginx and haproxy sidecars beside their apps, intercepted by iptables; ebpf as Cilium forwards,
# sidecar-ebpf as Merbridge steers) in pods on one node and on two, and the same paths on loopback — three runs of 5
# rounds each, one after the other in this script. Prints per path the p90 (median over rounds, order-statistic
# interval), the added p90 against direct in the same run (its interval), CPU and RSS per proxy, what the path added
# to the host's CPU, the issue's targets, the BPF counters, the hops, and what the pods add to `direct` itself (pods'
# direct − loopback's direct, medians of separate runs, no interval). Needs root.
# Output: results/bench-pods/<date>.txt and the three report.json files.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/lab-run.sh
bin=$(scripts/build.sh)
work=$(mktemp -d /tmp/meshbench-bench-pods.XXXXXX)
chmod 755 "$work"   # the sidecars run as uid 1337 in pods and must reach their files in the run folders
trap 'rm -rf "$work"' EXIT
sed 's/^nodes: 2$/nodes: 1/; s/^name: pods$/name: pods-1node/' scenarios/pods.yaml > "$work/pods-1node.yaml"
# On loopback without ambient, which runs only in pods.
sed '/^topology: pods$/d; /^nodes: 2$/d; s/^name: pods$/name: pods-loopback/; s/, ambient\]/]/' scenarios/pods.yaml \
    > "$work/loopback.yaml"
# What the hypervisor took from this VM during the three runs (steal): a noisy neighbour shows there.
before=$(steal)
one=$("$bin" run "$work/pods-1node.yaml" --out "$work" --quiet) || { echo "bench: the 1-node run failed" >&2; exit 1; }
two=$("$bin" run scenarios/pods.yaml --out "$work" --quiet) || { echo "bench: the 2-node run failed" >&2; exit 1; }
loop=$("$bin" run "$work/loopback.yaml" --out "$work" --quiet) || { echo "bench: the loopback run failed" >&2; exit 1; }
after=$(steal)
mkdir -p results/bench-pods
stamp=$(date -u +%Y%m%d-%H%M%S)
cp "$one/report.json" "results/bench-pods/$stamp-pods-1node-report.json"
cp "$two/report.json" "results/bench-pods/$stamp-pods-2nodes-report.json"
cp "$loop/report.json" "results/bench-pods/$stamp-loopback-report.json"
python3 - "$one/report.json" "$two/report.json" "$loop/report.json" "$before" "$after" > "results/bench-pods/$stamp.txt" <<'PY'
import json, sys
runs = [("pods, 1 node", json.load(open(sys.argv[1]))), ("pods, 2 nodes", json.load(open(sys.argv[2]))),
        ("loopback", json.load(open(sys.argv[3])))]
(s0, t0), (s1, t1) = [tuple(map(int, a.split())) for a in sys.argv[4:6]]
h = runs[0][1]["host"]
print("meshbench pod topology: Istio's setup (HTTP/1.1, 1 kB, 1000 rps, 16 connections, mTLS + metrics)")
print(f"host: {h['hostname']}, {h.get('cpu_model', '?')}, {h['cpus']} CPUs, kernel {h['kernel']}, cgroups {h['cgroup_layout']}")
print(f"steal (CPU time the hypervisor gave to others) during the three runs: {100 * (s1 - s0) / max(1, t1 - t0):.1f}% of this VM's CPU time")
def get(p, *keys):
    for k in keys:
        p = p.get(k) if isinstance(p, dict) else None
    return p
def ci(pair, fmt):
    return "n/a" if not pair else "[" + fmt.format(pair[0]) + "-" + fmt.format(pair[1]) + "]"
direct_p90 = {}
for title, r in runs:
    s = r["scenario"]
    print()
    print(f"{title}: {s['rounds']} rounds in a seeded random order each, {s['load'].get('duration')} measured after "
          f"{s['load']['warmup']} warm-up; sidecars placed {', '.join(s['sidecar'].get('placement') or ['?'])}")
    print(f"  {'path':26} {'status':8} {'p90 [interval]':>22} {'added p90 [interval]':>24} {'vCPU/1k/proxy':>13} "
          f"{'RSS MiB/proxy':>13} {'host +vCPU/1k [interval]':>28}")
    for p in r["paths"]:
        if p["status"] != "ok":
            print(f"  {p['name']:26} {p['status']:8} {p.get('reason', '')}")
            continue
        p90 = get(p, "stats", "latency_us", "p90") or {}
        if p["name"] == "direct":
            direct_p90[title] = p90.get("median")
        added = p.get("added_latency_us") or {}
        a = added.get("p90")
        cpu = get(p, "cpu", "mesh_vcpu_per_1000rps_per_proxy")
        rss = get(p, "memory_mib", "mesh_rss_peak_per_proxy")
        host = p.get("host_cpu") or {}
        inc = host.get("increment_vs_direct_per_1000rps")
        med = p90.get("median")
        p90_text = ("-" if med is None else f"{med:,.0f}us") + " " + ci(p90.get("ci95"), "{:,.0f}")
        print(f"  {p['name']:26} {'ok':8} {p90_text:>22} "
              f"{('-' if a is None else f'{a:+,.0f}us ' + ci(get(added, 'ci95', 'p90'), '{:+,.0f}')):>24} "
              f"{('-' if cpu is None else f'{cpu:.4f}'):>13} {('-' if rss is None else f'{rss:.1f}'):>13} "
              f"{('-' if inc is None else f'{inc:+.4f} ' + ci(host.get('increment_ci95'), '{:+.4f}')):>28}")
    paths = {p["name"]: p for p in r["paths"] if p["status"] == "ok"}
    # The issue's targets, from this run's own rounds.
    d, e = paths.get("direct"), paths.get("ebpf")
    if d and e:
        dp50, ep50 = get(d, "stats", "latency_us", "p50", "median"), get(e, "stats", "latency_us", "p50", "median")
        added = e.get("added_latency_us") or {}
        ratio = ep50 / dp50 if dp50 and ep50 is not None else None
        print(f"  target ebpf p50 <= 0.95x direct: {ep50}us vs {dp50}us = "
              + ("-" if ratio is None else f"{ratio:.2f}x ({'met' if ratio <= 0.95 else 'not met'})")
              + f"; added p50 {added.get('p50')}us {ci(get(added, 'ci95', 'p50'), '{:+,.0f}')}")
        host = e.get("host_cpu") or {}
        inc, inc_ci = host.get("increment_vs_direct_per_1000rps"), host.get("increment_ci95")
        if inc is not None:
            verdict = "met" if inc <= 0 else "not met"
            if inc_ci and inc_ci[0] <= 0 <= inc_ci[1]:
                verdict += ", the interval includes 0"
            print(f"  target ebpf host increment <= 0: {inc:+.4f} vCPU/1k {ci(inc_ci, '{:+.4f}')} ({verdict})")
    for impl in ("", "/nginx", "/haproxy"):
        s_, se = paths.get("sidecar" + impl), paths.get("sidecar-ebpf" + impl)
        if s_ and se:
            a, b = get(s_, "added_latency_us", "p90"), get(se, "added_latency_us", "p90")
            ratio = b / a if a and b is not None and a > 0 else None
            print(f"  target sidecar-ebpf{impl} added p90 <= 0.8x sidecar{impl}'s: {b}us vs {a}us = "
                  + ("no ratio (sidecar's added p90 is not above 0)" if ratio is None
                     else f"{ratio:.2f}x ({'met' if ratio <= 0.8 else 'not met'})")
                  + " (ratio of medians; intervals above)")
    for name, p in paths.items():
        b = p.get("bpf")
        if not b:
            continue
        line = f"  bpf, {name}: sk_msg redirects {b['redirects']}, misses {b['misses']}"
        if b.get("packets"):
            k = b["packets"]
            line += (f"; tc packets into a pod (redirect_peer) {k['peer']}, toward the other node (redirect_neigh) "
                     f"{k['neigh']}, left to the bridge {k['passed']}, failed {k['failed']}")
        inbound = sum((v.get("inbound") or 0) for v in b.get("per_service", {}).values())
        if inbound:
            line += f"; proxy connects sent to the inbound port by connect4 {inbound}"
        print(line)
    for name, p in paths.items():
        hops = get(p, "network", "hops")
        if hops and "/" not in name:
            print(f"  hops, {name}: " + " | ".join(hops))
    for p in r["paths"]:
        counters = get(p, "network", "interception")
        if counters:
            print(f"  interception, {p['name']}: " + "; ".join(
                f"{pod} pod: {c['outbound_redirects']} connections to the outbound sidecar, {c['inbound_redirects']} "
                f"to the inbound, conntrack {c.get('conntrack_entries', '-')}" for pod, c in sorted(counters.items())))
print()
print("what the pod network adds to direct (p90 medians of separate runs, no interval):")
base = direct_p90.get("loopback")
for title in ("pods, 1 node", "pods, 2 nodes"):
    v = direct_p90.get(title)
    print(f"  {title}: " + ("-" if v is None or base is None else f"{v - base:+,.0f}us over loopback's {base:,.0f}us"))
print()
print("added p90: median of per-round differences against direct in the same run; interval: order-statistic, n/a")
print("below 5 rounds. vCPU/1k/proxy: the sidecars' cgroup CPU per 1000 rps handled, per proxy. RSS: the largest")
print("VmHWM of one proxy. host +vCPU/1k: the whole host's busy time per 1000 rps minus direct's in the same round.")
PY
cat "results/bench-pods/$stamp.txt"
echo "bench: written to results/bench-pods/$stamp.txt" >&2
