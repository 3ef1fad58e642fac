# Shell helpers the benchmark and profile scripts share; sourced, not run.

# CPU time the hypervisor gave to others (steal) and all CPU time so far, in ticks: "STEAL TOTAL". Read before and
# after a run; the difference says how noisy the neighbours were.
steal() { awk '/^cpu /{print $9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }

# Starts the Swift sidecar pair (HTTP/1.1, 1 kB, mTLS and metrics, one round on loopback) in the background with
# `$bin run`: QPS (a rate or max) for DURATION after a 2 s warm-up, in the folder $work. Sets $runner (its PID);
# the run folder's path lands in $work/run-dir.
start_sidecar_run() {
    cat > "$work/s.yaml" <<YAML
name: proxy-profile
paths: [sidecar]
rounds: 1
load: {qps: $1, connections: 16, duration: $2, warmup: 2s, protocol: http1, response_size: 1k}
sidecar: {impl: [swift], features: [mtls, metrics]}
YAML
    "$bin" run "$work/s.yaml" --out "$work" --quiet > "$work/run-dir" &
    runner=$!
}

# The PID of the running lab's outbound sidecar, from its cgroup v2 (empty when there is none: not root?).
outbound_sidecar_pid() {
    local procs
    procs=$(ls -d /sys/fs/cgroup/unified/meshbench/*/sidecar/sidecar-outbound/cgroup.procs 2>/dev/null | head -1)
    [ -n "$procs" ] && head -1 "$procs" || true
}
