#!/usr/bin/env bash
# Where the CPU goes on the pod network across two nodes: `direct` and `ebpf` in pods (nodes: 2, Istio's load: 1000
# rps, 16 connections, 1 kB), each run alone for one round while `perf record -a` samples the whole host for 8 s of its
# measured window. Prints per path the CPU spent in the bridges, IP routing, forwarding and output, netfilter, the veths, the
# tc BPF programs and redirects, TCP, the rest of the kernel and user space, as vCPU and as CPU µs per request — what
# the ebpf path's redirects can save at most. Needs root and perf. Output: results/profile-pods/<date>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(scripts/build.sh)
command -v perf >/dev/null || { echo "profile: perf is missing" >&2; exit 1; }
work=$(mktemp -d /tmp/meshbench-profile-pods.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
seconds=8
rate=999
for path in direct ebpf; do
    cat > "$work/$path.yaml" <<EOF
name: profile-$path
topology: pods
nodes: 2
paths: [$path]
rounds: 1
load:
  qps: 1000
  connections: 16
  duration: 15s
  warmup: 3s
  protocol: http1
  response_size: 1k
EOF
    "$bin" run "$work/$path.yaml" --out "$work" --quiet > "$work/$path.folder" &
    run=$!
    sleep 5   # past the warm-up, inside the measured window
    perf record -e cpu-clock -a -g -F "$rate" -o "$work/$path.data" -- sleep "$seconds" 2> "$work/$path.perf.log"
    wait "$run" || { echo "profile: the $path run failed" >&2; exit 1; }
    perf report -i "$work/$path.data" --no-children --sort sym --stdio -g none 2>/dev/null > "$work/$path.report"
done
mkdir -p results/profile-pods
stamp=$(date -u +%Y%m%d-%H%M%S)
python3 - "$work" "$seconds" "$rate" > "results/profile-pods/$stamp.txt" <<'PY'
import json, re, sys
work, seconds, rate = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
idle_symbol = re.compile(r"^(native_safe_halt|pv_native_safe_halt|default_idle|arch_cpu_idle|cpuidle_|acpi_idle|poll_idle|do_idle|mwait_idle|intel_idle)")
categories = [
    ("bridge", re.compile(r"^(br_|nbp_|__br_)")),
    ("IP routing, forwarding and output", re.compile(r"^(ip_forward|ip_route|fib_|ip_rcv_finish|ip_sublist|__ip_finish|ip_finish|ip_output|neigh_)")),
    ("netfilter", re.compile(r"^(nf_|ipt_|nft_|iptable_|__nf_)")),
    ("veth", re.compile(r"^(veth_|__veth)")),
    ("tc BPF and redirects", re.compile(r"^(bpf_prog_|tcx_|sch_handle|skb_do_redirect|bpf_redirect|__bpf_redirect|bpf_skb|dev_queue_xmit_nit)")),
    ("TCP", re.compile(r"^(tcp_|__tcp)")),
]
print("meshbench pod network profile: direct and ebpf in pods on two nodes, 1000 rps, 16 connections, 1 kB")
print(f"perf record -e cpu-clock -a -g -F {rate:.0f} for {seconds:.0f} s inside each path's measured window; shares of")
print("the busy samples (idle CPUs' samples left out)")
for path in ("direct", "ebpf"):
    text = open(f"{work}/{path}.report").read()
    total_line = re.search(r"# Samples: ([\d.]+)([KM]?)", text)
    rows = []
    for line in text.splitlines():
        m = re.match(r"\s+([\d.]+)%\s+\[([k.])\]\s+(\S+)", line)
        if m:
            rows.append((float(m.group(1)), m.group(2) == "k", m.group(3)))
    # -a samples idle CPUs too: their share is not busy time.
    idle = sum(r[0] for r in rows if r[1] and idle_symbol.match(r[2]))
    rows = [r for r in rows if not (r[1] and idle_symbol.match(r[2]))]
    rows = [(r[0] * 100 / (100 - idle), r[1], r[2]) for r in rows] if idle < 100 else rows
    folder = open(f"{work}/{path}.folder").read().strip()
    report = json.load(open(f"{folder}/report.json"))
    p = report["paths"][0]
    rps = p.get("completed_rps") or p.get("achieved_rps") or 1000
    samples = float(total_line.group(1)) * {"": 1, "K": 1e3, "M": 1e6}[total_line.group(2)] if total_line else 0
    busy_vcpu = samples * (1 - idle / 100) / (rate * seconds)
    print()
    print(f"{path}: {samples:,.0f} samples, {idle:.1f}% idle: {busy_vcpu:.3f} vCPU busy over the host; {rps:.0f} requests/s; "
          f"p50 {p['latency_us']['p50']} µs, p90 {p['latency_us']['p90']} µs")
    used = 0.0
    for name, pattern in categories:
        share = sum(r[0] for r in rows if r[1] and pattern.match(r[2]))
        used += share
        vcpu = busy_vcpu * share / 100
        print(f"  {name:34} {share:5.1f}%  {vcpu:.4f} vCPU  {vcpu / rps * 1e6:6.1f} µs CPU per request")
    kernel = sum(r[0] for r in rows if r[1])
    rest = kernel - used
    print(f"  {'rest of the kernel':34} {rest:5.1f}%  {busy_vcpu * rest / 100:.4f} vCPU, largest: " + ", ".join(
        f"{r[2]} {r[0]:.1f}%" for r in sorted((r for r in rows if r[1] and not any(p.match(r[2]) for _, p in
                                                categories)), reverse=True)[:6]))
    print(f"  {'user space':34} {100 - kernel:5.1f}%  {busy_vcpu * (100 - kernel) / 100:.4f} vCPU")
print()
print("CPU µs per request: the category's share of the host's busy time, divided by the requests handled. A request")
print("crosses the pod network four times (request and response, each leaving one pod and entering the other); the")
print("CPU a path's redirects can save is at most the bridge, netfilter and part of the routing rows of direct. Without a PMU (a")
print("VM) perf samples on cpu-clock: a sample due while interrupts are off lands where they are turned on again")
print("(_raw_spin_unlock_irq*), so the rest-of-kernel row absorbs part of every category's time and the category rows")
print("are lower bounds. smaps_* is the orchestrator's own memory sampler reading /proc/<pid>/smaps_rollup.")
PY
cat "results/profile-pods/$stamp.txt"
echo "profile: written to results/profile-pods/$stamp.txt" >&2
