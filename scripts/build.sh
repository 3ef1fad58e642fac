#!/usr/bin/env bash
# Set up, then build meshbench in release mode. Prints the binary's path.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product meshbench >&2
echo "$(swift build -c release --show-bin-path)/meshbench"
