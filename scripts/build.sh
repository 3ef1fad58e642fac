#!/usr/bin/env bash
# Set up, then build meshbench, meshbench-proxy and meshbench-node-proxy in release mode. Prints meshbench's path.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product meshbench >&2
# The Swift sidecar runs as its own executable beside meshbench (README, "Process model").
swift build -c release --product meshbench-proxy >&2
# So does the ambient path's node proxy.
swift build -c release --product meshbench-node-proxy >&2
echo "$(swift build -c release --show-bin-path)/meshbench"
