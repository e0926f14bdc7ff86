#!/usr/bin/env bash
# The gateway's cost on model calls: the same SSE upstream (on 127.0.0.1) reached directly and
# through an Axon gateway set up as the local supervisor sets one up (token swap, metering,
# budget check, audit records), in one run. Prints the time to first byte of 500 sequential
# streaming requests each way, interleaved (p50, p99, what the gateway adds), and the total time
# of 100 concurrent streams of 300 SSE events at a model's pace (ratio gateway/direct), then the
# same unpaced, with the gateway's CPU per request; and the aims (≤ 2 ms added p50, ≤ 1.05×)
# with PASS/MISS. A benchmark: a missed aim does not fail it.
# Sizes: AXON_BENCH_REQUESTS, AXON_BENCH_STREAMS, AXON_BENCH_EVENTS, AXON_BENCH_PACE_MS,
# AXON_BENCH_ROUNDS, AXON_BENCH_REQUEST_KB (see crates/gateway/examples/gateway_bench.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p axon-gateway --example gateway_bench
exec "${CARGO_TARGET_DIR:-target}/release/examples/gateway_bench"
