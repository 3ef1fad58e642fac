#!/usr/bin/env bash
# Set up, then build meshbench and meshbench-proxy in release mode. Prints meshbench's path.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product meshbench >&2
# The Swift sidecar runs as its own executable beside meshbench (README, "Process model").
swift build -c release --product meshbench-proxy >&2
echo "$(swift build -c release --show-bin-path)/meshbench"
