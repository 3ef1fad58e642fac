#!/usr/bin/env bash
# Where the Swift sidecar's resident memory is: runs the sidecar pair at Istio's setup (HTTP/1.1, 1 kB, 1000 rps,
# 16 connections, mTLS and metrics) on loopback for one round, reads the outbound sidecar's /proc/PID/smaps in the
# middle of its measured window, and prints its resident set by mapping (the executable's text, read-only data and
# writable data, each shared library, anonymous memory), then the run's RSS peak with its anon/file split. The
# sidecar runs as the lab runs it: from its own copy of meshbench-proxy, whose page cache is dropped before it
# starts, so the file pages it holds are the ones it touched. Root (cgroups).
#
# Usage: scripts/profile-proxy-memory.sh [LABEL]   (writes results/profiles/<stamp>-proxy-memory[-LABEL].txt)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/lab-run.sh
label=${1:+-$1}
bin=$(scripts/build.sh)
work=$(mktemp -d /tmp/meshbench-profile-memory.XXXXXX)
trap 'rm -rf "$work"' EXIT
start_sidecar_run 1000 10s
# The middle of the measured window: 2 s warm-up plus 5 s.
sleep 9
pid=$(outbound_sidecar_pid)
mkdir -p results/profiles
out="results/profiles/$(date -u +%Y%m%d-%H%M%S)-proxy-memory$label.txt"
{
    echo "meshbench-proxy resident memory at Istio's setup (1000 rps, 16 connections, mTLS, metrics), outbound sidecar"
    echo "binary: $(file -b "$(dirname "$bin")/meshbench-proxy" | cut -d, -f1-2), $(stat -c %s "$(dirname "$bin")/meshbench-proxy") bytes"
    echo
    if [ -n "$pid" ]; then
        grep -E "^(Rss|Anonymous|Pss_File)" "/proc/$pid/smaps_rollup"
        echo
        echo "resident kB by mapping (perms, offset, file; 'anon' for none), largest first:"
        awk '/^[0-9a-f]+-[0-9a-f]+ /{hdr=$2" "$3" "($6==""?"anon":$6)} /^Rss:/{rss[hdr]+=$2} END{for (h in rss) if (rss[h] > 0) print rss[h], h}' \
            "/proc/$pid/smaps" | sort -rn | head -15
    else
        echo "the outbound sidecar's PID was not found in the lab's cgroup v2 tree (not root?)"
    fi
} > "$out"
wait "$runner"
python3 - "$(cat "$work/run-dir")/report.json" >> "$out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
p = [x for x in r["paths"] if x["name"] == "sidecar"][0]
c = (p.get("memory_mib") or {}).get("components", {})
print()
print("the run's peaks (VmHWM with its RssAnon/RssFile split, cgroup peak), MiB:")
for name in ("sidecar-outbound", "sidecar-inbound"):
    m = c.get(name) or {}
    print(f"  {name}: RSS peak {m.get('rss_peak')} (anon {m.get('rss_anon_peak')}, file {m.get('rss_file_peak')}), cgroup peak {m.get('cgroup_peak')}")
print(f"  vCPU per 1000 rps per proxy: {(p.get('cpu') or {}).get('mesh_vcpu_per_1000rps_per_proxy')}")
PY
cat "$out"
echo "profile: written to $out" >&2
