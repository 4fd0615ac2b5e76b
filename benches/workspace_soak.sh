#!/usr/bin/env bash
# The workspace soak: `leakwatch serve` and `leakwatch run --every 1m` side by
# side on one database for 10 minutes of triage, watch-list and search
# traffic (the test tests/workspace_lock.rs, lengthened). Fails on any
# "database is locked"; prints requests, the slowest answer, runs, matches.
#   bash benches/workspace_soak.sh            (SECS=600 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
LEAKWATCH_WORKSPACE_SOAK_SECS="${SECS:-600}" cargo test --locked --test integration \
    workspace_lock -- --nocapture 2>&1 | grep -E "workspace soak:|test result|panicked"
