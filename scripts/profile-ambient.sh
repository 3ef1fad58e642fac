#!/usr/bin/env bash
# Where the ambient path's proxies spend their CPU: `ambient+waypoint` in pods on two nodes at Istio's load (1000 rps,
# 16 connections, 1 kB), one round, while `perf record -a -g` samples the whole host for 10 s of its measured window.
# Prints per proxy (node 1's and node 2's node proxy, the waypoint) its CPU as vCPU and as µs per request, split
# into the kernel (and there: the TCP/IP send path that delivers the packet through lo, veths and bridges inside the
# sender's system call, the receive path, the rest) and user space (TLS, HTTP/2, NIO, the Swift runtime, the rest),
# and each one's top user-space symbols. Needs root and perf. Output: results/profile-ambient/<date>.txt.
#
# In this VM perf samples with cpu-clock (no PMU): time the kernel spends with interrupts off is attributed to the
# point where they come back on (_raw_spin_unlock_irqrestore, __local_bh_enable_ip), so the kernel split below goes
# by the call chain of each sample, not its leaf.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(scripts/build.sh)
command -v perf >/dev/null || { echo "profile: perf is missing" >&2; exit 1; }
work=$(mktemp -d /tmp/meshbench-profile-ambient.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
seconds=10
rate=999
cat > "$work/ambient.yaml" <<YAML
name: profile-ambient
topology: pods
nodes: 2
paths: [ambient]
ambient:
  waypoint: true
rounds: 1
load:
  qps: 1000
  connections: 16
  duration: 16s
  warmup: 3s
  protocol: http1
  response_size: 1k
sidecar:
  features: [mtls, metrics]
YAML
"$bin" run "$work/ambient.yaml" --out "$work" --quiet > "$work/folder" &
run=$!
sleep 6   # past the warm-up, inside the measured window
perf record -e cpu-clock -a -g -F "$rate" -o "$work/perf.data" -- sleep "$seconds" 2> "$work/perf.log"
wait "$run" || { echo "profile: the run failed" >&2; exit 1; }
folder=$(cat "$work/folder")
perf script -i "$work/perf.data" -F comm,tid,pid,ip,sym,dso 2>/dev/null > "$work/samples.txt"
mkdir -p results/profile-ambient
stamp=$(date -u +%Y%m%d-%H%M%S)
python3 - "$work/samples.txt" "$folder/report.json" "$seconds" "$rate" > "results/profile-ambient/$stamp.txt" <<'PY'
import collections, json, re, sys
samples_path, report_path, seconds, rate = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
report = json.load(open(report_path))
path = next(p for p in report["paths"] if p["name"] == "ambient+waypoint")
rps = path.get("completed_rps") or path["achieved_rps"]
# perf script: a header line "comm pid/tid" then one frame per line (ip sym (dso)), a blank line between samples.
proxies = {"meshbench-node-proxy": "proxy"}
samples = []
for block in open(samples_path).read().split("\n\n"):
    lines = [l for l in block.splitlines() if l.strip()]
    if not lines:
        continue
    head = lines[0].split()
    frames = []
    for l in lines[1:]:
        m = re.match(r"\s*([0-9a-f]+)\s+(.*?)\s+\((.*)\)\s*$", l)
        if m:
            frames.append((m.group(2), m.group(3)))
    if frames:
        samples.append((head, frames))
def owner(frames):
    """The copy of meshbench-node-proxy the sample ran in (each proxy runs its own: bin/<component>/<hash>/...)."""
    for _, dso in frames:
        m = re.search(r"/bin/(node-proxy-\d|waypoint)/(?:[0-9a-f]+/)?meshbench-node-proxy", dso)
        if m:
            return m.group(1)
    return None
def kernel_part(frames):
    syms = [s for s, d in frames if "kernel" in d]
    chain = " ".join(syms)
    if not syms:
        return None
    if re.search(r"\b(tcp_sendmsg|__sys_sendto|sock_write_iter|__x64_sys_write|ksys_write)", chain):
        return "kernel: send path (tcp_sendmsg down to the receiver's softirq, through lo/veth/bridge/conntrack)"
    if re.search(r"\b(tcp_recvmsg|sock_read_iter|ksys_read|__sys_recvfrom)", chain):
        return "kernel: receive (tcp_recvmsg, copies to user space)"
    if re.search(r"\b(do_epoll_wait|ep_poll|__x64_sys_epoll)", chain):
        return "kernel: epoll_wait"
    return "kernel: other (scheduling, timers, memory)"
def user_part(frames):
    leaf_sym, leaf_dso = frames[0]
    if "kernel" in leaf_dso:
        return None
    if re.search(r"BoringSSL|ssl_|SSL|aes|gcm|sha|chacha|bn_|ecp_|x25519", leaf_sym, re.I):
        return "user: TLS (BoringSSL)"
    if "NIOHTTP2" in leaf_sym or "NIOHPACK" in leaf_sym:
        return "user: HTTP/2 (swift-nio-http2)"
    if "NIOHTTP1" in leaf_sym or "Sidecar" in leaf_sym:
        return "user: HTTP/1 and the L7 proxy"
    if re.search(r"NIOPosix|NIOCore|NIOSSL|NodeProxy", leaf_sym):
        return "user: NIO event loop, channels, relay"
    if re.search(r"^swift_|swift::|\$s", leaf_sym) or "libswift" in leaf_dso:
        return "user: Swift runtime (retain/release, allocation, exclusivity, generics)"
    if "libc" in leaf_dso:
        return "user: libc (malloc, memcpy)"
    return "user: other"
per = collections.defaultdict(collections.Counter)
tops = collections.defaultdict(collections.Counter)
for head, frames in samples:
    who = owner(frames)
    if who is None:
        continue
    part = kernel_part(frames) if "kernel" in frames[0][1] else user_part(frames)
    per[who][part or "other"] += 1
    if "kernel" not in frames[0][1]:
        tops[who][re.sub(r"\+0x[0-9a-f]+$", "", frames[0][0])[:110]] += 1
print("meshbench ambient profile: ambient+waypoint in pods on two nodes, 1000 rps, 16 connections, 1 kB")
print(f"perf record -e cpu-clock -a -g -F {rate:.0f} for {seconds:.0f} s inside the measured window; "
      f"{rps:,.0f} requests/s handled")
print(f"report: {report_path.split('/')[-2]}; the round's accounting: per kind of proxy "
      + ", ".join(f"{k} {v:.4f}" for k, v in sorted((path['cpu'].get('per_role_vcpu_per_1000rps_per_proxy') or {}).items()))
      + " vCPU per 1000 rps")
for who in sorted(per):
    c = per[who]
    total = sum(c.values())
    vcpu = total / rate / seconds
    print()
    print(f"{who}: {vcpu:.3f} vCPU = {vcpu / rps * 1e6:.0f} CPU µs per request")
    for part, n in sorted(c.items(), key=lambda kv: -kv[1]):
        print(f"  {100 * n / total:5.1f}%  {n / rate / seconds / rps * 1e6:6.1f} µs/request  {part}")
    print("  top user-space symbols (share of this proxy's samples):")
    for sym, n in tops[who].most_common(12):
        print(f"    {100 * n / total:5.1f}%  {sym}")
PY
cat "results/profile-ambient/$stamp.txt"
echo "profile: written to results/profile-ambient/$stamp.txt" >&2
