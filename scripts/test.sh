#!/usr/bin/env bash
# Set up, then run every test. Tests that need root, BPF or cgroups run when those are there and skip with the
# reason otherwise.
#
# The tests run in a session of their own and are bounded in time (30 minutes; they take about 4 here). Whatever
# they started and left behind (a helper whose test crashed, still holding this script's output open) is ended by
# PID afterwards, so a crash fails the run at once instead of hanging it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build --build-tests

session_file=$(mktemp)
trap 'rm -f "$session_file"' EXIT
status=0
setsid --wait bash -c 'echo $$ > "$0"; shift; exec timeout --kill-after=30 30m swift test --skip-build "$@"' \
    "$session_file" -- "$@" || status=$?
session=$(cat "$session_file")
if [[ -n "$session" ]]; then
    for stat in /proc/[0-9]*/stat; do
        # Fields after the command name (which may hold spaces): state ppid pgrp session ...
        fields=$(sed 's/.*) //' "$stat" 2>/dev/null) || continue
        read -r state _ _ sid _ <<<"$fields"
        # A zombie has already ended; its parent (or init) reaps it.
        if [[ "$sid" == "$session" && "$state" != "Z" ]]; then
            pid=${stat#/proc/}
            pid=${pid%/stat}
            echo "test.sh: ending PID $pid, left behind by the tests: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
fi
if [[ $status -eq 124 ]]; then
    echo "test.sh: the tests did not finish within 30 minutes" >&2
fi
exit "$status"
