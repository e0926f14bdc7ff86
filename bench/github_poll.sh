#!/usr/bin/env bash
# GitHub requests per poll (first and idle) and time to discover 1,000 open issues, against the
# fake GitHub server, next to the naive count (one list + one comments call per issue).
# BENCH_PROFILE=release for optimized timings (default: the dev profile, which is enough for
# request counts and much cheaper to build).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=()
if [[ "${BENCH_PROFILE:-dev}" == "release" ]]; then profile=(--release); fi
exec cargo run -q "${profile[@]}" -p axon-spawner --example github_poll
