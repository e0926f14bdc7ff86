#!/usr/bin/env bash
# The test command: installs what the tests need (scripts/install-deps.sh), then checks
# formatting and lints, runs every test (unit, snapshot, API-contract, end to end with real
# git, bubblewrap and the real agent CLIs), and validates the generated manifests.
set -euo pipefail
cd "$(dirname "$0")/.."
deps=$(scripts/install-deps.sh)   # fails the run if an install fails
eval "$deps"
export AXON_AGENT_BIN_DIR AXON_VENV
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== manifests"
scripts/validate-manifests.sh
echo "== tests"
status=0
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast || status=$?
else
  cargo test --workspace --no-fail-fast || status=$?
fi
# The hostile-agent suite again as an unprivileged user (as root: user axon-ci).
echo "== hostile suite, unprivileged"
scripts/test-unprivileged.sh || status=$?
exit "$status"
