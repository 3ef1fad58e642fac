#!/usr/bin/env bash
# Overload (issue 6, item 4), on loopback only, every step bounded in time. Prints a report on standard output and
# writes it to results/overload/<UTC timestamp>.txt.
#
# (a) The load generator offered far more than the host can serve (--qps 200000 over 64 connections against
#     `meshbench serve`): requested vs achieved rate, corrected vs uncorrected p50/p99, not_sent, and the generator's
#     peak RSS for 5 s, 10 s and 15 s runs, to show that memory does not grow with the requests it could not send.
# (b) The Swift sidecar (`meshbench proxy --max-connections 1000`, no TLS) in front of `meshbench serve` while a
#     python3 asyncio client opens 10,000 TCP connections to it and holds them (half send the start of a request head,
#     half send nothing), and a steady valid load (`meshbench load --qps 500`, at most 4 connections, started 3 s
#     before the flood; libcurl opens connections as it needs them, so at 500 rps usually fewer) keeps running: how
#     many connections the proxy kept vs refused, the valid load's ok/errors, the proxy's
#     RSS and open-connection gauge every 0.5 s, and a valid request after the flood is released. Optionally nginx
#     as the same kind of proxy, for reference (NGINX=1, if nginx is installed).
#
# Placement (2-CPU host): the load generator and the flood client on CPU 0, the server and the proxy on CPU 1.
# Environment: MESHBENCH (a built binary; default: scripts/build.sh builds the release one), QPS (200000),
# CONNECTIONS (64), FLOOD (10000), LIMIT (1000), HOLD (15, seconds the flood is held), NGINX (0), OUT (results dir).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${MESHBENCH:-$(scripts/build.sh)}
qps=${QPS:-200000}
conns=${CONNECTIONS:-64}
flood=${FLOOD:-10000}
limit=${LIMIT:-1000}
hold=${HOLD:-15}
out_dir=${OUT:-results/overload}
gen_cpu=0
srv_cpu=1
[ "$(nproc)" -ge 2 ] || { gen_cpu=0; srv_cpu=0; }

work=$(mktemp -d /tmp/meshbench-overload.XXXXXX)
pids=()
cleanup() {
    # Only the components this script started: a bare `wait` would also wait for the tee below, which ends only when
    # this script's output does.
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$out_dir"
stamp=$(date -u +%Y%m%d-%H%M%S)
report="$out_dir/$stamp.txt"
exec > >(tee "$report") 2>&1

# The flood needs a descriptor per connection on both sides; raise the limit as far as this shell may.
ulimit -Hn 65536 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"
need=$((flood + 256))
if [ "$(ulimit -n)" -lt "$need" ]; then
    echo "overload: open-file limit $(ulimit -n) is below the $need the flood needs; lowering FLOOD" >&2
    flood=$(( $(ulimit -n) - 256 ))
fi

# start NAME CPU ARGS...: starts a long-running meshbench component pinned to CPU, waits for "listening on", and
# sets $port and $pid.
start() {
    local name=$1 cpu=$2
    shift 2
    taskset -c "$cpu" "$bin" "$@" > "$work/$name.out" 2> "$work/$name.err" &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 100); do
        if grep -q '^listening on' "$work/$name.out" 2>/dev/null; then
            port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$work/$name.out" | head -1)
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "overload: $name did not start:" >&2
    cat "$work/$name.err" >&2
    exit 1
}

# sample PID FILE [METRICS_PORT]: every 0.5 s until PID exits, appends "t rss_kb hwm_kb [active_connections]".
sample() {
    local p=$1 file=$2 metrics=${3:-} t0 now rss hwm active
    t0=$(date +%s.%N)
    while kill -0 "$p" 2>/dev/null; do
        rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
        hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
        [ -n "$rss" ] || break
        active=""
        if [ -n "$metrics" ]; then
            active=$(curl -s --max-time 0.4 "http://127.0.0.1:$metrics/metrics" \
                | awk '/^sidecar_downstream_connections_active / {print $2}' || true)
        fi
        now=$(date +%s.%N)
        echo "$(awk "BEGIN { printf \"%.1f\", $now - $t0 }") $rss $hwm $active" >> "$file"
        sleep 0.5
    done
}

echo "meshbench overload: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -r), $(nproc) CPUs, $("$bin" --version 2>/dev/null || echo meshbench)"
echo "binary: $bin"
echo "placement: load generator and flood client on CPU $gen_cpu; server and proxy on CPU $srv_cpu; loopback only"
echo "host load at start: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15-min load average; other work on the host skews rates)"
echo

# ---------------------------------------------------------------------------------------------------------------
echo "== (a) load generator offered $qps rps over $conns connections against meshbench serve =="
start serve-a "$srv_cpu" serve --listen 127.0.0.1:0
serve_port=$port
serve_pid=$pid
for duration in 5 10 15; do
    json="$work/load-$duration.json"
    taskset -c "$gen_cpu" "$bin" load "http://127.0.0.1:$serve_port/" --qps "$qps" --connections "$conns" \
        --duration "${duration}s" --json "$json" --quiet &
    lp=$!
    sample "$lp" "$work/load-$duration.mem" &
    sp=$!
    wait "$lp"
    wait "$sp" || true
    python3 - "$json" "$work/load-$duration.mem" "$duration" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
mem = [l.split() for l in open(sys.argv[2]) if l.strip()]
peak = max(int(m[2]) for m in mem) / 1024 if mem else float("nan")
c, u = r["latency_us"], r["latency_uncorrected_us"]
ec = {k: v for k, v in r["error_classes"].items() if v}
def ms(v): return f"{v / 1000:,.1f} ms"
print(f"  {sys.argv[3]:>2} s: requested {r['requested_qps']} rps, achieved {r['achieved_rps']:,.0f} rps; "
      f"requests {r['requests']:,} = ok {r['ok']:,} + errors {r['errors']:,} {ec}")
print(f"        corrected p50 {ms(c['p50'])}, p99 {ms(c['p99'])}; uncorrected p50 {ms(u['p50'])}, p99 {ms(u['p99'])}; "
      f"late sends {100 * (r.get('late_send_fraction') or 0):.1f}%, max queue {r.get('max_queue_depth', 0):,}")
cpu = r.get("loadgen_cpu") or {}
print(f"        generator: peak RSS (VmHWM) {peak:.1f} MB, {cpu.get('vcpu', 0):.2f} vCPU; "
      f"RSS every 2 s: " + ", ".join(f"{int(m[1]) / 1024:.1f}" for m in mem[::4]) + " MB")
assert r["requests"] == r["ok"] + sum(r["error_classes"].values()), "requests do not add up"
PY
done
kill "$serve_pid" 2>/dev/null || true
echo

# ---------------------------------------------------------------------------------------------------------------
# flood_and_measure NAME PROXY_PORT PROXY_PID METRICS_PORT
flood_and_measure() {
    local name=$1 pport=$2 ppid=$3 mport=${4:-}
    sample "$ppid" "$work/$name.mem" "$mport" &
    local sampler=$!
    sleep 1
    # The valid load: 4 connections opened now, before the flood, kept for the whole window.
    local valid_seconds=$((hold + 14))
    taskset -c "$gen_cpu" "$bin" load "http://127.0.0.1:$pport/" --qps 500 --connections 4 \
        --duration "${valid_seconds}s" --timeout 3s --json "$work/$name-valid.json" --quiet &
    local vp=$!
    sleep 3
    taskset -c "$gen_cpu" python3 - "$pport" "$flood" "$hold" > "$work/$name-flood.txt" <<'PY'
import asyncio, sys, time
port, total, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
PARTIAL = b"GET / HTTP/1.1\r\nHost: flood\r\n"   # the start of a head, never finished
stats = {"connect_failed": 0, "refused": 0, "closed_later": 0, "answered_then_closed": 0, "open_at_end": 0}
writers = []

async def one(i, sem, t_end):
    async with sem:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
        except Exception:
            stats["connect_failed"] += 1
            return
    writers.append(writer)
    t0 = time.monotonic()
    try:
        if i % 2 == 0:
            writer.write(PARTIAL)
            await writer.drain()
        got = b""
        while True:
            left = t_end - time.monotonic()
            if left <= 0:
                stats["open_at_end"] += 1
                return
            chunk = await asyncio.wait_for(reader.read(4096), left)
            if not chunk:
                break
            got += chunk
    except asyncio.TimeoutError:
        stats["open_at_end"] += 1
        return
    except (ConnectionResetError, BrokenPipeError, OSError):
        pass
    # Closed by the proxy: at once and without a byte is a refusal at the limit; later, or with an answer (408 from
    # the header timeout), is an admitted connection the proxy ended.
    if got:
        stats["answered_then_closed"] += 1
    elif time.monotonic() - t0 < 1.0:
        stats["refused"] += 1
    else:
        stats["closed_later"] += 1

async def main():
    sem = asyncio.Semaphore(256)
    t_start = time.monotonic()
    t_end = t_start + hold
    tasks = [asyncio.create_task(one(i, sem, t_end)) for i in range(total)]
    await asyncio.gather(*tasks)
    for w in writers:
        w.close()
    print(" ".join(f"{k}={v}" for k, v in stats.items()), f"elapsed={time.monotonic() - t_start:.1f}s")

asyncio.run(main())
PY
    local after_status
    after_status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$pport/" || echo failed)
    wait "$vp" || true
    local metrics_text=""
    if [ -n "$mport" ]; then
        metrics_text=$(curl -s --max-time 2 "http://127.0.0.1:$mport/metrics" || true)
    fi
    sleep 1
    kill "$sampler" 2>/dev/null || true
    python3 - "$name" "$work/$name-flood.txt" "$work/$name-valid.json" "$work/$name.mem" "$after_status" \
        "$limit" "$flood" <<'PY'
import json, sys
name, flood_file, valid_file, mem_file, after, limit, total = sys.argv[1:8]
flood = dict(kv.split("=") for kv in open(flood_file).read().split())
v = json.load(open(valid_file))
mem = [l.split() for l in open(mem_file) if l.strip()]
print(f"  flood of {total} connections held {flood['elapsed']}: refused at once {flood['refused']}, kept open to the "
      f"end {flood['open_at_end']}, closed later without a byte {flood['closed_later']}, answered then closed "
      f"{flood['answered_then_closed']}, connect failed {flood['connect_failed']}")
ec = {k: n for k, n in v["error_classes"].items() if n}
print(f"  valid load (500 rps on at most 4 connections, started 3 s before the flood; libcurl opened "
      f"{v['connections_opened']} connections in all): requests {v['requests']:,}, ok {v['ok']:,}, "
      f"errors {v['errors']:,} {ec}, status codes {v['status_codes']}, p50 {v['latency_us']['p50']/1000:.2f} ms, "
      f"p99 {v['latency_us']['p99']/1000:.2f} ms, max {v['latency_us']['max']/1000:.2f} ms")
print(f"  a valid request on a new connection after the flood was released: HTTP {after}")
actives = [int(float(m[3])) for m in mem if len(m) > 3]
if actives:
    print(f"  open-connection gauge: max {max(actives)} (limit {limit}); every 0.5 s: "
          + " ".join(str(a) for a in actives))
print(f"  {name} RSS every 0.5 s (MB): " + " ".join(f"{int(m[1]) / 1024:.0f}" for m in mem))
print(f"  {name} peak RSS (VmHWM): {max(int(m[2]) for m in mem) / 1024:.1f} MB; RSS before the flood "
      f"{int(mem[0][1]) / 1024:.1f} MB, at the end {int(mem[-1][1]) / 1024:.1f} MB")
PY
    if [ -n "$metrics_text" ]; then
        echo "$metrics_text" | grep -E '^sidecar_downstream_connections' | sed 's/^/  metrics: /'
    fi
}

echo "== (b) the Swift sidecar (--max-connections $limit) under a flood of $flood connections, valid load alongside =="
start serve-b "$srv_cpu" serve --listen 127.0.0.1:0
app_port=$port
start proxy "$srv_cpu" proxy --listen 127.0.0.1:0 --upstream "127.0.0.1:$app_port" --max-connections "$limit" \
    --metrics 127.0.0.1:0
proxy_port=$port
proxy_pid=$pid
metrics_port=$(sed -n 's/^metrics on .*:\([0-9]*\)$/\1/p' "$work/proxy.out" | head -1)
flood_and_measure proxy "$proxy_port" "$proxy_pid" "$metrics_port"
kill "$proxy_pid" 2>/dev/null || true
wait "$proxy_pid" 2>/dev/null || true
sed 's/^/  proxy exit: /' "$work/proxy.err" | tail -2

if [ "${NGINX:-0}" = 1 ] && command -v nginx > /dev/null; then
    echo
    echo "== reference: nginx (worker_connections $limit, 1 worker) as the same proxy =="
    mkdir -p "$work/nginx"
    nginx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    cat > "$work/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections $limit; }
http {
    access_log off;
    upstream app { server 127.0.0.1:$app_port; keepalive 64; }
    server {
        listen 127.0.0.1:$nginx_port backlog=1024;
        location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
EOF
    taskset -c "$srv_cpu" nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" 2> "$work/nginx/stderr" &
    pids+=($!)
    sleep 1
    worker=$(pgrep -P "$(cat "$work/nginx/nginx.pid")" | head -1)
    flood_and_measure nginx-worker "$nginx_port" "$worker" ""
    grep -c "worker_connections are not enough" "$work/nginx/error.log" \
        | sed 's/^/  nginx "worker_connections are not enough" log lines: /' || true
fi
echo
echo "host load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "report: $report"
