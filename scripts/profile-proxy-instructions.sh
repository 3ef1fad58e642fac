#!/usr/bin/env bash
# Instructions a sidecar executes per request, counted by valgrind's callgrind (a count that does not depend on this
# VM's noise), by part (exclusivity checks, reference counting, SwiftNIO, TLS, ...) and by function. The Swift
# sidecar by default; DATAPLANE=nginx (any definition in dataplanes/, or a definition file) counts another the same way.
#
# Runs the sidecar pair at 200 rps (HTTP/1.1, 1 kB, 16 connections, mTLS and metrics) on loopback twice, each sidecar
# under callgrind: one run of 5 s and one of 25 s. The steady state per request is the difference of the two runs'
# counts divided by the difference of their requests, so start-up, TLS handshakes and shutdown cancel out; start-up is
# printed apart. valgrind 3.19 cannot read the DWARF 5 debug information of this toolchain's binaries, so the proxy runs
# from a copy without it (symbols kept).
#
# Usage: [DATAPLANE=NAME] scripts/profile-proxy-instructions.sh [--order FILE] [LABEL]
#   writes results/profiles/<stamp>-<NAME>-instructions[-LABEL].txt; with --order, also FILE: every function the
#   sidecars executed in the long run (start-up included), most instructions first, as the linker's section names
#   (.text.SYMBOL): linker/meshbench-proxy.order is made this way.
set -euo pipefail
cd "$(dirname "$0")/.."
order=""
if [ "${1:-}" = "--order" ]; then
    order=$2
    shift 2
fi
label=${1:+-$1}
dataplane=${DATAPLANE:-swift}
definition=$dataplane
[ -f "$definition" ] || definition=dataplanes/$dataplane.yaml
[ -f "$definition" ] || { echo "profile: no data-plane definition $dataplane (dataplanes/*.yaml or a file)" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "profile: valgrind missing (scripts/setup.sh)" >&2; exit 1; }
bin=$(scripts/build.sh)
work=$(mktemp -d /tmp/meshbench-profile-instructions.XXXXXX)
trap 'rm -rf "$work"' EXIT
strip --strip-debug -o "$work/meshbench-proxy" "$(dirname "$bin")/meshbench-proxy"
# The definition, run under callgrind: its command gains valgrind in front (block or flow list), the Swift sidecar's
# binary is the stripped copy, and its stop grace allows callgrind to write its counts.
python3 - "$definition" "$work" "$(command -v valgrind)" > "$work/callgrind.yaml" <<'PY'
import sys
work = sys.argv[2]
valgrind = [sys.argv[3], "--tool=callgrind", "--demangle=no", "--compress-strings=no", "--compress-pos=no",
            "--callgrind-out-file={{work_dir}}/callgrind.out"]
text = ""
for line in open(sys.argv[1]):
    if line.startswith("name: "):
        line = f"name: {line[6:].strip()}-callgrind\n"
    elif line.startswith("  name: meshbench-proxy"):
        line = f"  name: {work}/meshbench-proxy\n"
    elif line.startswith('  - "{{binary}}"'):
        line = "".join(f'  - "{w}"\n' for w in valgrind) + line
    elif line.startswith('command: ["{{binary}}"'):
        line = line.replace('["{{binary}}"', "[" + ", ".join(f'"{w}"' for w in valgrind) + ', "{{binary}}"')
    elif line.startswith("  grace: "):
        line = "  grace: 120s\n"
    text += line
if "--tool=callgrind" not in text:
    sys.exit("profile: the definition's command does not start with {{binary}}")
print(text, end="")
PY
for seconds in 5 25; do
    cat > "$work/run-$seconds.yaml" <<YAML
name: proxy-instructions-${seconds}s
paths: [sidecar]
rounds: 1
load: {qps: 200, connections: 16, duration: ${seconds}s, warmup: 2s, protocol: http1, response_size: 1k}
sidecar: {impl: [$work/callgrind.yaml], features: [mtls, metrics]}
YAML
    "$bin" run "$work/run-$seconds.yaml" --out "$work" --quiet > "$work/run-dir-$seconds"
done
mkdir -p results/profiles
out="results/profiles/$(date -u +%Y%m%d-%H%M%S)-$(basename "$dataplane" .yaml)-instructions$label.txt"
python3 - "$(cat "$work/run-dir-5")" "$(cat "$work/run-dir-25")" "$order" "$definition" > "$out" <<'PY'
import collections, glob, json, re, sys

objects = {}  # function -> the file (executable or shared library) it is in

def run(folder):
    """Each role's self cost per function, and the requests each sidecar served (its own counter)."""
    costs, requests = {}, {}
    report = json.load(open(f"{folder}/report.json"))
    stats = report["paths"][0]["network"]["proxy_stats"]
    for path in glob.glob(f"{folder}/**/callgrind.out", recursive=True):
        # Each sidecar's work folder is named after its role.
        role = "sidecar-outbound" if "sidecar-outbound" in path else "sidecar-inbound"
        fn, ob, skip, cost = None, "", False, collections.Counter()
        for line in open(path, errors="replace"):
            if line.startswith("ob="):
                ob = line[3:].strip().split("/")[-1]
            elif line.startswith("fn="):
                fn = re.sub(r"'\d+$", "", line[3:].strip())
                objects[fn] = ob
            elif line.startswith("calls="):
                skip = True  # the next cost line is the call's inclusive cost, not this function's own
            elif line[:1].isdigit() or line[:1] in "+-*":
                if skip:
                    skip = False
                    continue
                fields = line.split()
                if fn is not None and len(fields) >= 2:
                    cost[fn] += int(fields[1])
        costs[role] = cost
        requests[role] = stats[role]["requests"]
    return costs, requests

def part(fn):
    ob = objects.get(fn, "")
    if fn in ("malloc", "free", "realloc", "calloc", "cfree") or fn.startswith("_int_") or re.match(
            r"swift_(allocObject|deallocObject|slowAlloc|slowDealloc|deallocClassInstance)", fn):
        return "allocation"
    if ob.startswith("lib") and ".so" in ob:
        return ob.split(".so")[0] + " (shared library)"
    if "beginAccess" in fn or "endAccess" in fn or "AccessSet" in fn or "SwiftTLSContext" in fn:
        return "exclusivity checks"
    if re.match(r"swift_(unknownObject|bridgeObject|nonatomic_)?(retain|release)", fn):
        return "reference counting"
    if "onformsToProtocol" in fn or "tryCast" in fn or "dynamicCast" in fn or "Conformance" in fn:
        return "dynamic casts, conformance lookups"
    if "Metadata" in fn or "WitnessTable" in fn or "getCache" in fn or "getGeneric" in fn:
        return "generic metadata"
    if (fn.startswith("CNIOBoringSSL") or fn.startswith("_ZN4bssl") or fn.startswith("_ZL") and "bssl" in fn
            or re.match(r"_?(aesni|ecp_nistz|sha256|gcm|fe_|x25519|bn_)", fn)):
        return "BoringSSL (TLS)"
    if fn.startswith("c_nio_llhttp"):
        return "llhttp (HTTP/1 parser)"
    m = re.match(r"\$s(\d+)(\w+)", fn)
    if m and not fn.startswith("$ss") and not fn.startswith("$sS"):
        return m.group(2)[:int(m.group(1))]
    if fn.startswith("$s"):
        return "Swift standard library"
    if fn.startswith("swift_") or fn.startswith("_ZN5swift") or fn.startswith("_ZNK5swift"):
        return "Swift runtime (other)"
    # C in the executable itself (nginx's own code, say), or in an object callgrind could not name.
    return f"{ob} (C)" if ob else "other C"

short, long_ = run(sys.argv[1]), run(sys.argv[2])
print(f"{sys.argv[4]}: instructions per request (valgrind callgrind), HTTP/1.1, 1 kB, 200 rps, 16 connections, "
      "mTLS and metrics, the sidecar pair on loopback")
print("steady state = (25 s run - 5 s run) / (the requests each sidecar's own counter saw in the two runs)")
print()
for role in sorted(long_[0]):
    n = long_[1][role] - short[1][role]
    diff = collections.Counter(long_[0][role])
    diff.subtract(short[0][role])
    total = sum(diff.values())
    print(f"{role}: {total / n:,.0f} instructions per request ({n} requests); "
          f"start-up, handshakes and the 5 s run: {sum(short[0][role].values()):,}")
    parts = collections.Counter()
    for fn, v in diff.items():
        parts[part(fn)] += v
    for name, v in parts.most_common(18):
        print(f"  {v / n:9,.0f}  {100 * v / total:5.1f}%  {name}")
    print("  top functions:")
    for fn, v in diff.most_common(30):
        print(f"  {v / n:9,.0f}  {100 * v / total:5.1f}%  {fn[:150]}")
    print()
if sys.argv[3]:
    executed = collections.Counter()
    for cost in long_[0].values():
        executed.update(cost)
    names = [fn for fn, v in executed.most_common() if v > 0 and not fn.startswith("0x")]
    with open(sys.argv[3], "w") as f:
        f.write("".join(f".text.{fn}\n" for fn in names))
    print(f"link order: {len(names)} functions executed, written to {sys.argv[3]}")
PY
cat "$out"
echo "profile: written to $out" >&2
