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
# The real Kubernetes control plane (shared/kube/up.sh beside the repository, or beside one
# of its parents for a worktree; CI has ../shared too). Started and stopped here once: that
# unpacks its binaries and installs etcd (the slow part) and fails early, saying why, if it
# cannot start. The test binaries that need one (real_apiserver, conformance) then each start
# their own in ~3 s (one per binary: real_apiserver installs and uninstalls Axon, which must
# not race the conformance suite), and AXON_KUBE_REQUIRED=1 makes them fail, not skip, when
# they cannot find it.
up=""
for dir in .. ../.. ../../..; do
  if [ -f "$dir/shared/kube/up.sh" ]; then up=$(cd "$dir/shared/kube" && pwd)/up.sh; break; fi
done
if [ -n "$up" ]; then
  echo "== control plane ($up)"
  plane=$(mktemp -d)
  trap 'bash "$up" --down "$plane" >/dev/null 2>&1 || true; rm -rf "$plane"' EXIT
  started=$SECONDS
  bash "$up" "$plane" >/dev/null
  bash "$up" --down "$plane"
  echo "control plane started and stopped in $((SECONDS - started))s"
  export AXON_KUBE_UP="$up" AXON_KUBE_REQUIRED=1
else
  echo "== control plane: SKIPPED: no shared/kube/up.sh beside the repository; real_apiserver and conformance[kubernetes] will not run"
fi
if [ -z "${AXON_E2E_KUBECONFIG:-}" ]; then
  # The test harness reports the skipped test as passed; say it here.
  echo "== kube_e2e: SKIPPED: AXON_E2E_KUBECONFIG is not set, nothing runs against a real cluster (make test-e2e)"
fi

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
