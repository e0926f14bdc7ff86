#!/usr/bin/env bash
# Local backend overhead benchmark: 50 Tasks with a trivial agent on one repository (served by
# git daemon on 127.0.0.1), each through the engine, a supervisor, the mirror cache and
# bubblewrap, against `git clone --reference` + exec of the same agent in the same program.
# Prints p50/p95 latency, the overhead in ms and the ratio, then a batch run at concurrency =
# cores. Needs git and bwrap. AXON_BENCH_TASKS overrides the count.
# Breakdown per step: AXON_PROFILE=/tmp/p.log bench/local.sh && bench/local_profile.py /tmp/p.log
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p axon-cli --bin axon
cargo build --release -q -p axon-local --example local_bench
target="${CARGO_TARGET_DIR:-target}"
AXON_BENCH_AXON="$(cd "$target/release" && pwd)/axon" exec "$target/release/examples/local_bench"
