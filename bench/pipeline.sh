#!/usr/bin/env bash
# Task dependencies on the local backend: 10 chains of 10 Tasks and a fan-in over 500 Tasks with
# a trivial agent, through the real `axon` binary (engine, supervisors, bubblewrap). Prints the
# time from a dependency's end to its dependant's start (p50, p99) and the wall time against the
# same Tasks without dependencies. AXON_BENCH_SCALE (chains and their length, default 10) and
# AXON_BENCH_FAN (default 500) override the sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p axon-cli --bin axon
cargo build --release -q -p axon-local --example pipeline_bench
target="${CARGO_TARGET_DIR:-target}"
AXON_BENCH_AXON="$(cd "$target/release" && pwd)/axon" exec "$target/release/examples/pipeline_bench"
