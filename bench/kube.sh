#!/usr/bin/env bash
# Controller memory and throughput: the Task controller's watches and reconciles fed N Tasks and
# N Jobs (default 10,000) by an in-process mock API server that pages lists like a real one.
# Each case runs in its own process so RSS is not inherited:
#   empty  baseline: the same controller with an empty reflector
#   noop   baseline: N Tasks + Jobs watched, a reconciler that does nothing
#   real   Axon's reconcile (GET Job, list Pods, observe, status patch, Event) for each Task
# Prints RSS, RSS per 1,000 objects over the empty baseline, reconciles per second and the ratio.
# Usage: bench/kube.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
cargo build -q --release -p axon-kube --example controller_bench
bin=${CARGO_TARGET_DIR:-target}/release/examples/controller_bench
read -r _ _ empty_rss _ < <("$bin" empty 0)
read -r _ _ noop_rss noop_rate < <("$bin" noop "$n")
read -r _ _ real_rss real_rate < <("$bin" real "$n")
awk -v n="$n" -v e="$empty_rss" -v nr="$noop_rss" -v nq="$noop_rate" -v rr="$real_rss" -v rq="$real_rate" 'BEGIN {
  printf "baseline  empty reflector                      RSS %7.1f MiB\n", e/1024
  printf "baseline  %d Tasks+Jobs, no-op reconcile     RSS %7.1f MiB  %8d reconciles/s\n", n, nr/1024, nq
  printf "axon      %d Tasks+Jobs, real reconcile      RSS %7.1f MiB  %8d reconciles/s\n", n, rr/1024, rq
  printf "RSS per 1,000 objects over the empty baseline: %.2f MiB (no-op: %.2f MiB)\n", (rr-e)/1024/(n/1000), (nr-e)/1024/(n/1000)
  printf "throughput ratio real/no-op: %.3f\n", rq/nq
  printf "aim under 64 MiB RSS at %d Tasks: %s\n", n, (rr < 64*1024 ? "met" : "NOT met")
}'
