#!/usr/bin/env bash
# Set up, then build meshbench, meshbench-proxy and meshbench-node-proxy in release mode. Prints meshbench's path.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Release flags for every module, the dependencies' included (issue 16's profiles, results/profiles/README.md):
# - exclusivity checking off: swift_beginAccess and its access set were 14% of the Swift sidecar's instructions per
#   request (callgrind). Debug builds, which the tests run, keep the checks, so a violation still traps there.
# - one section per function (Swift and C): the executables' link order (linker/meshbench-proxy.order) can then put
#   the code the proxies run next to each other, so that they touch fewer pages of their text. The compiler keeps an
#   object whose LLVM IR did not change even when code generation options did (its "incremental LLVM codegen"), which
#   would leave objects without the sections; that is turned off so every object follows the flags.
release=(-c release -Xswiftc -enforce-exclusivity=unchecked -Xswiftc -Xfrontend -Xswiftc -function-sections
    -Xswiftc -Xfrontend -Xswiftc -disable-incremental-llvm-codegen -Xcc -ffunction-sections)
swift build "${release[@]}" --product meshbench >&2
# The Swift sidecar runs as its own executable beside meshbench (README, "Process model").
swift build "${release[@]}" --product meshbench-proxy >&2
# So does the ambient path's node proxy.
swift build "${release[@]}" --product meshbench-node-proxy >&2
echo "$(swift build "${release[@]}" --show-bin-path)/meshbench"
