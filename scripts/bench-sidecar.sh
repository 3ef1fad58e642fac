#!/usr/bin/env bash
# The sidecar benchmark, two scenarios in one file:
#   1. Istio's setup (scenarios/istio-reference.yaml): direct, and the Swift sidecar, nginx, haproxy, nghttpx and
#      Caddy as sidecar pairs (each from its definition in dataplanes/), 1000 rps open loop, interleaved rounds: added
#      latency against direct (p50/p90/p99), vCPU per 1000 rps per proxy, peak memory per proxy.
#   2. Closed loop (scenarios/sidecar-closed-loop.yaml): the Swift, nginx and haproxy pairs at the rate each carries.
# Then issue 16's targets, each from the same run. With BEFORE=PATH (a meshbench-proxy built before a change), that
# binary runs as a sixth data plane, `swift-before`, in the same rounds of both scenarios, so the file holds the run
# before the change beside the run after it. Commits nothing by itself: the text report and both report.json files
# land in results/bench-sidecar/.
#
# Environment: SCENARIO (default scenarios/istio-reference.yaml), CLOSED (default scenarios/sidecar-closed-loop.yaml;
# empty to skip), BEFORE (a meshbench-proxy binary; unset for none).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/lab-run.sh
scenario=${SCENARIO:-scenarios/istio-reference.yaml}
closed=${CLOSED-scenarios/sidecar-closed-loop.yaml}
bin=$(scripts/build.sh)
work=$(mktemp -d /tmp/meshbench-bench-sidecar.XXXXXX)
trap 'rm -rf "$work"' EXIT
before_note=""
if [ -n "${BEFORE:-}" ]; then
    [ -x "$BEFORE" ] || { echo "bench: BEFORE=$BEFORE is not an executable file" >&2; exit 2; }
    # The shipped Swift definition, named swift-before, running the given binary.
    sed -e 's/^name: swift$/name: swift-before/' -e "s|^  name: meshbench-proxy$|  name: $(realpath "$BEFORE")|" \
        dataplanes/swift.yaml > "$work/swift-before.yaml"
    grep -q "^name: swift-before$" "$work/swift-before.yaml" || { echo "bench: dataplanes/swift.yaml changed shape" >&2; exit 1; }
    before_note="$(realpath "$BEFORE") ($(stat -c %s "$BEFORE") bytes, modified $(date -u -r "$BEFORE" +%Y-%m-%dT%H:%MZ))"
fi
# A copy of a scenario with swift-before added to its data planes (the copy only when BEFORE is set).
with_before() {
    if [ -z "$before_note" ]; then echo "$1"; return; fi
    local copy
    copy="$work/$(basename "$1")"
    sed "s|^  impl: \[|  impl: [$work/swift-before.yaml, |" "$1" > "$copy"
    echo "$copy"
}
# What the hypervisor took from this VM during each run (steal): a noisy neighbour shows there.
run_one() {
    local s0 s1 dir
    s0=$(steal)
    dir=$("$bin" run "$(with_before "$1")" --out "$work" --quiet) || { echo "bench: the run of $1 failed; see $work" >&2; exit 1; }
    s1=$(steal)
    echo "$dir|$s0|$s1"
}
istio=$(run_one "$scenario")
closed_run=""
[ -n "$closed" ] && closed_run=$(run_one "$closed")
mkdir -p results/bench-sidecar
stamp=$(date -u +%Y%m%d-%H%M%S)
cp "${istio%%|*}/report.json" "results/bench-sidecar/$stamp-report.json"
[ -n "$closed_run" ] && cp "${closed_run%%|*}/report.json" "results/bench-sidecar/$stamp-closed-loop-report.json"
python3 - "$before_note" "$istio" "$closed_run" > "results/bench-sidecar/$stamp.txt" <<'PY'
import json, sys

before_note = sys.argv[1]

def load(arg):
    if not arg:
        return None, None
    folder, s0, s1 = arg.split("|")
    (st0, t0), (st1, t1) = [tuple(map(int, a.split())) for a in (s0, s1)]
    return json.load(open(f"{folder}/report.json")), 100 * (st1 - st0) / max(1, t1 - t0)

def get(p, *keys):
    for k in keys:
        p = (p or {}).get(k)
    return p

def section(title, r, steal):
    s, h = r["scenario"], r["host"]
    print(title)
    print(f"scenario: {s['name']} ({s.get('description', '')})")
    print(f"host: {h['hostname']}, {h.get('cpu_model', '?')}, {h['cpus']} CPUs, kernel {h['kernel']}, cgroups {h['cgroup_layout']}")
    print(f"load: {s['load']['qps']} {'rps open loop' if s['load']['qps'] != 'max' else '(closed loop)'}, "
          f"{s['load']['connections']} connections, {s['load']['protocol']}, "
          f"{s['load']['response_size']} B responses, {s['load'].get('duration')} + {s['load']['warmup']} warm-up, "
          f"{s['rounds']} interleaved rounds; sidecar features {s['sidecar']['features']}"
          + (f" and, where the data plane has them, {s['sidecar']['optional_features']}" if s['sidecar'].get('optional_features') else "")
          + f", hops {s['sidecar']['hops']}, {s['sidecar']['threads']} thread(s) per proxy")
    print(f"steal (CPU time the hypervisor gave to others) during the run: {steal:.1f}% of this VM's CPU time")
    print()
    print(f"{'path':20} {'rps':>8} {'p50':>7} {'p90':>7} {'p99':>8} {'+p50':>7} {'+p90 [interval]':>24} {'+p99':>8} "
          f"{'vCPU/1k/proxy':>13} {'RSS MiB/proxy':>13} {'errors':>6}")
    for p in r["paths"]:
        if p["status"] != "ok":
            print(f"{p['name']:20} {p['status']}: {p.get('reason', '')}")
            continue
        l, a = p["latency_us"], p.get("added_latency_us") or {}
        cpu = get(p, "cpu", "mesh_vcpu_per_1000rps_per_proxy")
        rss = get(p, "memory_mib", "mesh_rss_peak_per_proxy")
        f = lambda v: "-" if v is None else f"{v:,.0f}us"
        g = lambda v: "-" if v is None else f"{v:+,.0f}us"
        iv = get(a, "ci95", "p90")
        p90 = g(a.get("p90")) + (f" [{iv[0]:+,.0f}, {iv[1]:+,.0f}]" if iv else "")
        print(f"{p['name']:20} {p['achieved_rps']:8,.0f} {f(l['p50']):>7} {f(l['p90']):>7} {f(l['p99']):>8} "
              f"{g(a.get('p50')):>7} {p90:>24} {g(a.get('p99')):>8} "
              f"{('-' if cpu is None else f'{cpu:.4f}'):>13} {('-' if rss is None else f'{rss:.1f}'):>13} {p['errors']:>6}")
    estimate = next((get(p, "added_latency_us", "estimate") for p in r["paths"] if p.get("added_latency_us")), None)
    if estimate:
        print(f"added latency: {estimate}")
    print("per round, requests per second:")
    for p in r["paths"]:
        if p["status"] == "ok":
            print(f"  {p['name']:20} " + ", ".join(f"{x['achieved_rps']:,.0f}" for x in p.get("rounds", [])))
    print()
    print("data planes (binary, version, definition):")
    for name, d in sorted((s.get("dataplanes") or {}).items()):
        print(f"  {name:12} {d['binary']} {d.get('version') or '(built from this repository)'} ({d['file'].split('/')[-1]}; features {', '.join(d['features'])})")
    print()
    print("per component (vCPU over the windows; cgroup peak and RSS peak, MiB):")
    for p in r["paths"]:
        if p["status"] != "ok" or not p.get("cpu"):
            continue
        comps, mems = p["cpu"]["components"], get(p, "memory_mib", "components") or {}
        mb = lambda v: "-" if v is None else f"{v:.1f}"
        parts = [f"{n} {c['vcpu']:.4f} vCPU / {mb(get(mems, n, 'cgroup_peak'))} cgroup, {mb(get(mems, n, 'rss_peak'))} RSS "
                 f"(anon {mb(get(mems, n, 'rss_anon_peak'))})" for n, c in sorted(comps.items())]
        print(f"  {p['name']:20} " + "; ".join(parts))
        stats = get(p, "network", "proxy_stats")
        if stats:
            print(f"  {'':20} the proxy's own counters, all rounds, warm-ups, readiness probes and reads included: "
                  + "; ".join(f"{c} " + ", ".join(f"{k} {int(v)}" for k, v in sorted(vals.items())) for c, vals in sorted(stats.items())))
    print()

istio, istio_steal = load(sys.argv[2])
closed, closed_steal = load(sys.argv[3])
if before_note:
    print(f"swift-before: {before_note}, in the same rounds as the current build (swift)")
    print()
section("1. Istio's setup", istio, istio_steal)
if closed:
    section("2. Closed loop", closed, closed_steal)

paths = {p["name"]: p for p in istio["paths"] if p["status"] == "ok"}
cpaths = {p["name"]: p for p in (closed or {}).get("paths", []) if p["status"] == "ok"}
MB16 = 16e6 / 2**20  # the issue's 16 MB, in MiB
def targets(swift_name):
    swift, nginx = paths.get(swift_name), paths.get("sidecar/nginx")
    rows = []
    if closed and cpaths.get(swift_name) and cpaths.get("sidecar/nginx"):
        a, b = cpaths[swift_name]["achieved_rps"], cpaths["sidecar/nginx"]["achieved_rps"]
        rows.append(("closed-loop throughput of the pair >= nginx's", f"{a:,.0f} vs {b:,.0f} rps = {a / b:.2f}x", a >= b))
    if swift and nginx:
        c, n = get(swift, "cpu", "mesh_vcpu_per_1000rps_per_proxy"), get(nginx, "cpu", "mesh_vcpu_per_1000rps_per_proxy")
        if c is not None and n:
            rows.append(("vCPU per 1000 rps per proxy at Istio's setup <= 1.0x nginx's", f"{c:.4f} vs {n:.4f} = {c / n:.2f}x", c <= n))
        s90, n90 = get(swift, "added_latency_us", "p90"), get(nginx, "added_latency_us", "p90")
        niv = get(nginx, "added_latency_us", "ci95", "p90")
        if s90 is not None and n90 is not None:
            ok = s90 <= n90 or (niv is not None and s90 <= niv[1])
            rows.append(("added p90 at Istio's setup <= nginx's (within nginx's interval)",
                         f"{s90:+,.0f}us vs {n90:+,.0f}us" + (f" [{niv[0]:+,.0f}, {niv[1]:+,.0f}]" if niv else ""), ok))
    if swift:
        rss = get(swift, "memory_mib", "mesh_rss_peak_per_proxy")
        if rss is not None:
            rows.append(("peak RSS per proxy <= 16 MB (15.26 MiB)", f"{rss:.2f} MiB = {rss * 2**20 / 1e6:.1f} MB", rss <= MB16))
    return rows

print("targets (issue 16; medians over the rounds of this run):")
for name in (["sidecar/swift-before"] if before_note else []) + ["sidecar"]:
    label = "swift-before" if name.endswith("before") else "swift (this build)"
    for what, shown, ok in targets(name):
        print(f"  {label}: {what}: {shown} -> {'met' if ok else 'NOT met'}")
print()
if before_note:
    print("before -> after (same rounds):")
    for title, ps in (("Istio's setup", paths), ("closed loop", cpaths)):
        b, a = ps.get("sidecar/swift-before"), ps.get("sidecar")
        if not (a and b):
            continue
        for what, keys, fmt in (("rps", ("achieved_rps",), "{:,.0f}"),
                                ("vCPU/1k/proxy", ("cpu", "mesh_vcpu_per_1000rps_per_proxy"), "{:.4f}"),
                                ("added p90 us", ("added_latency_us", "p90"), "{:+,.0f}"),
                                ("RSS peak MiB/proxy", ("memory_mib", "mesh_rss_peak_per_proxy"), "{:.2f}")):
            vb, va = get(b, *keys), get(a, *keys)
            if vb is None or va is None:
                continue
            print(f"  {title:14} {what:20} {fmt.format(vb):>10} -> {fmt.format(va):>10}" + (f"  ({va / vb:.2f}x)" if vb else ""))
    print()
print("Added latency is this path's corrected latency minus direct's, from the same run. vCPU comes from each")
print("component's cgroup over the load's lifetime (warm-up included, at the same rate); per proxy = the mesh's")
print("components divided by their count. RSS peak: the process's VmHWM (its lifetime high-water mark, shared library")
print("pages included); cgroup peak: anon memory plus page cache first touched by the proxy, as container metrics count it.")
PY
cat "results/bench-sidecar/$stamp.txt"
echo "bench: written to results/bench-sidecar/$stamp.txt (report: $stamp-report.json)" >&2
