#!/usr/bin/env bash
# Checks meshbench's load generator against real peers on the same nginx, on loopback:
#   1. HTTP/1.1 closed loop, 16 connections: meshbench load --qps max vs wrk (throughput ratio, p50/p99)
#   2. HTTP/1.1 open loop at 1000 rps: meshbench's own CPU use (target <= 0.05 vCPU)
#   3. HTTP/1.1 open loop at 10,000 rps: does it hold the rate (target within 1%)
#   4. HTTP/2 (h2c) at a fixed rate and closed loop: meshbench load --http2 vs h2load
# nginx runs on CPU 0 and the generators on CPU 1 (when the host has two CPUs), one tool at a time, in interleaved
# rounds; medians are reported. Output: a text report on stdout and in results/bench-loadgen/<date>.txt.
#
# With BEFORE=PATH (a meshbench binary built before a change), that binary runs tests 1 and 2 too, as
# `meshbench-before`, in the same rounds, so the report holds the run before the change beside the run after it.
#
# Environment: ROUNDS (default 3), DURATION seconds per measurement (default 10), BEFORE (unset for none).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
bin=$(scripts/build.sh)
for tool in nginx wrk h2load python3 taskset; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || { echo "bench: $tool missing (scripts/setup.sh)" >&2; exit 1; }
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
before=${BEFORE:-}
if [ -n "$before" ]; then
    [ -x "$before" ] || { echo "bench: BEFORE=$before is not an executable file" >&2; exit 2; }
    before=$(realpath "$before")
fi

work=$(mktemp -d /tmp/meshbench-bench.XXXXXX)
nginx_pid=""
cleanup() {
    if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
        kill "$nginx_pid"
        wait "$nginx_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
h1_port=$(free_port)
h2_port=$(free_port)
mkdir -p "$work/html" "$work/logs"
head -c 1024 /dev/zero | tr '\0' 'x' > "$work/html/1k"
cat > "$work/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process off;
pid $work/nginx.pid;
error_log $work/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 10000000;
    client_body_temp_path $work/tmp;
    server {
        listen 127.0.0.1:$h1_port;
        listen 127.0.0.1:$h2_port http2;
        root $work/html;
        location / { }
    }
}
EOF

if [ "$(nproc)" -ge 2 ]; then server_cpu=0; gen_cpu=1; pinning="nginx on CPU 0, load generators on CPU 1"; else
    server_cpu=0; gen_cpu=0; pinning="one CPU: nginx and generators share it"; fi
taskset -c "$server_cpu" "$nginx_bin" -c "$work/nginx.conf" -p "$work" &
nginx_pid=$!
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$h1_port/1k" && break; sleep 0.1; done
gen() { taskset -c "$gen_cpu" "$@"; }
url1="http://127.0.0.1:$h1_port/1k"
url2="http://127.0.0.1:$h2_port/1k"

# Each measurement appends one JSON line to $work/rows.jsonl: {test, tool, rps, p50_us, p99_us, mean_us, vcpu, ...}
row() { echo "$1" >> "$work/rows.jsonl"; }
mb_row() { # test tool jsonfile latency-block
    python3 - "$1" "$2" "$3" "$4" <<'EOF'
import json, sys
test, tool, path, block = sys.argv[1:5]
r = json.load(open(path))
l = r[block]
print(json.dumps({"test": test, "tool": tool, "rps": r["achieved_rps"], "p50_us": l["p50"], "p99_us": l["p99"],
                  "mean_us": l["mean"], "vcpu": r.get("loadgen_cpu", {}).get("vcpu"), "requests": r["requests"],
                  "errors": r["errors"], "late": r.get("late_send_fraction")}))
EOF
}
wrk_row() { # test output
    python3 - "$1" "$2" <<'EOF'
import json, re, sys
test, text = sys.argv[1], open(sys.argv[2]).read()
def us(v, unit): return float(v) * {"us": 1, "ms": 1000, "s": 1e6}[unit]
pct = {m.group(1): us(m.group(2), m.group(3)) for m in re.finditer(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)}
avg = re.search(r"Latency\s+([\d.]+)(us|ms|s)", text)
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
print(json.dumps({"test": test, "tool": "wrk", "rps": rps, "p50_us": pct.get("50"), "p99_us": pct.get("99"),
                  "mean_us": us(avg.group(1), avg.group(2)) if avg else None}))
EOF
}
h2load_row() { # test output
    python3 - "$1" "$2" <<'EOF'
import json, re, sys
test, text = sys.argv[1], open(sys.argv[2]).read()
def us(v, unit): return float(v) * {"us": 1, "ms": 1000, "s": 1e6}[unit]
m = re.search(r"time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)", text)
rps = float(re.search(r"finished in [\d.]+s, ([\d.]+) req/s", text).group(1))
failed = int(re.search(r"(\d+) failed", text).group(1))
print(json.dumps({"test": test, "tool": "h2load", "rps": rps, "p50_us": None, "p99_us": None,
                  "mean_us": us(m.group(5), m.group(6)), "max_us": us(m.group(3), m.group(4)), "errors": failed}))
EOF
}

echo "bench: $ROUNDS rounds of ${DURATION}s per measurement; $pinning" >&2
for round in $(seq "$ROUNDS"); do
    echo "bench: round $round/$ROUNDS" >&2
    # 1. HTTP/1.1 closed loop, 16 connections, one thread each.
    gen wrk -t1 -c16 -d"${DURATION}s" --latency "$url1" > "$work/wrk.txt"
    row "$(wrk_row h1-closed "$work/wrk.txt")"
    gen "$bin" load "$url1" --qps max -c 16 -d "${DURATION}s" --json "$work/mb.json" -q
    row "$(mb_row h1-closed meshbench "$work/mb.json" latency_uncorrected_us)"
    if [ -n "$before" ]; then
        gen "$before" load "$url1" --qps max -c 16 -d "${DURATION}s" --json "$work/mb.json" -q
        row "$(mb_row h1-closed meshbench-before "$work/mb.json" latency_uncorrected_us)"
    fi
    # 2. and 3. open loop: own CPU at 1000 rps, rate held at 10,000 rps.
    gen "$bin" load "$url1" --qps 1000 -c 16 -d "${DURATION}s" --json "$work/mb.json" -q
    row "$(mb_row h1-1000rps meshbench "$work/mb.json" latency_us)"
    if [ -n "$before" ]; then
        gen "$before" load "$url1" --qps 1000 -c 16 -d "${DURATION}s" --json "$work/mb.json" -q
        row "$(mb_row h1-1000rps meshbench-before "$work/mb.json" latency_us)"
    fi
    gen "$bin" load "$url1" --qps 10000 -c 16 -d "${DURATION}s" --json "$work/mb.json" -q
    row "$(mb_row h1-10000rps meshbench "$work/mb.json" latency_us)"
    # 4. HTTP/2: fixed 2000 rps over 16 connections (h2load's --rps is per client), then closed loop.
    gen h2load -c16 -m1 --rps 125 -D "$DURATION" "$url2" > "$work/h2load.txt"
    row "$(h2load_row h2-2000rps "$work/h2load.txt")"
    gen "$bin" load "$url2" --http2 --qps 2000 -c 16 -d "${DURATION}s" --json "$work/mb.json" -q
    row "$(mb_row h2-2000rps meshbench "$work/mb.json" latency_uncorrected_us)"
    gen h2load -c16 -m1 -D "$DURATION" "$url2" > "$work/h2load.txt"
    row "$(h2load_row h2-closed "$work/h2load.txt")"
    gen "$bin" load "$url2" --http2 --qps max -c 16 -d "${DURATION}s" --json "$work/mb.json" -q
    row "$(mb_row h2-closed meshbench "$work/mb.json" latency_uncorrected_us)"
done

mkdir -p results/bench-loadgen
out="results/bench-loadgen/$(date -u +%Y%m%d-%H%M%S).txt"
python3 - "$work/rows.jsonl" "$ROUNDS" "$DURATION" "$pinning" "$bin" "$before" > "$out" <<'EOF'
import json, platform, statistics, subprocess, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
rounds, duration, pinning, binary, before = sys.argv[2:7]

def med(test, tool, key):
    vals = [r[key] for r in rows if r["test"] == test and r["tool"] == tool and r.get(key) is not None]
    return statistics.median(vals) if vals else None

def cmd(*a):
    try:
        return subprocess.run(a, capture_output=True, text=True).stdout + subprocess.run(a, capture_output=True, text=True).stderr
    except OSError:
        return ""

model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print("meshbench load generator vs wrk and h2load, same nginx on loopback")
print(f"host: {platform.node()}, {model}, {subprocess.getoutput('nproc')} CPUs, kernel {platform.release()}")
print(f"peers: {cmd('wrk', '-v').splitlines()[0] if cmd('wrk', '-v') else 'wrk ?'}; "
      f"h2load {subprocess.getoutput('h2load --version').split()[-1]}; {subprocess.getoutput('nginx -v 2>&1')}")
print(f"meshbench: {binary} (release); {subprocess.getoutput(binary + ' doctor | grep libcurl | head -1').split(None, 2)[-1][:60]}")
if before:
    print(f"meshbench-before: {before} (the binary before the change, in the same rounds for tests 1 and 2)")
print(f"method: {rounds} interleaved rounds x {duration}s per measurement, medians; {pinning}; 1 KiB responses; "
      "16 connections; one generator thread")
print()
def fmt(v, unit=""):
    return "-" if v is None else f"{v:,.0f}{unit}"

print("1. HTTP/1.1 closed loop (max rate)")
print(f"   {'tool':10} {'rps':>10} {'p50':>9} {'p99':>9}")
tools = ("meshbench-before", "meshbench") if before else ("meshbench",)
for tool in ("wrk",) + tools:
    print(f"   {tool:16} {fmt(med('h1-closed', tool, 'rps')):>10} {fmt(med('h1-closed', tool, 'p50_us'), 'us'):>9} "
          f"{fmt(med('h1-closed', tool, 'p99_us'), 'us'):>9}")
w = med("h1-closed", "wrk", "rps")
for tool in tools:
    m = med("h1-closed", tool, "rps")
    ratio = m / w if w and m else None
    print(f"   throughput ratio {tool}/wrk: {ratio:.2f} (target >= 0.95: {'met' if ratio and ratio >= 0.95 else 'NOT met'})")
print()
print("2. HTTP/1.1 open loop at 1000 rps: the load generator's own CPU")
for tool in tools:
    v = med("h1-1000rps", tool, "vcpu")
    print(f"   {tool:16} {v:.3f} vCPU (target <= 0.05: {'met' if v is not None and v <= 0.05 else 'NOT met'}); "
          f"corrected p50 {fmt(med('h1-1000rps', tool, 'p50_us'), 'us')}, p99 {fmt(med('h1-1000rps', tool, 'p99_us'), 'us')}")
print()
r = med("h1-10000rps", "meshbench", "rps")
late = med("h1-10000rps", "meshbench", "late")
print("3. HTTP/1.1 open loop at 10,000 rps: rate held")
print(f"   achieved {r:,.1f} rps ({100 * (r / 10000 - 1):+.2f}%, target within 1%: {'met' if abs(r / 10000 - 1) <= 0.01 else 'NOT met'}); "
      f"sends >1 ms late: {100 * (late or 0):.2f}%; own CPU {med('h1-10000rps', 'meshbench', 'vcpu'):.3f} vCPU")
print()
print("4. HTTP/2 (h2c, prior knowledge), 16 connections, 1 stream each")
print(f"   {'test':12} {'tool':10} {'rps':>10} {'mean':>9} {'p50':>9} {'p99':>9}")
for test in ("h2-2000rps", "h2-closed"):
    for tool in ("h2load", "meshbench"):
        print(f"   {test:12} {tool:10} {fmt(med(test, tool, 'rps')):>10} {fmt(med(test, tool, 'mean_us'), 'us'):>9} "
              f"{fmt(med(test, tool, 'p50_us'), 'us'):>9} {fmt(med(test, tool, 'p99_us'), 'us'):>9}")
print("   (h2load 1.52 prints no percentiles; its latency is from the HEADERS frame, meshbench's uncorrected one")
print("    from handing the request to libcurl)")
print()
print("per-round rows:")
for row in rows:
    print("  " + json.dumps(row))
EOF
cat "$out"
echo "bench: written to $out" >&2
