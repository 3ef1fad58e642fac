#!/usr/bin/env bash
# Set up, then run every test. Tests that need root, BPF or cgroups run when those are there and skip with the
# reason otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build --build-tests
swift test --skip-build "$@"
