#!/usr/bin/env bash
# The hostile-agent suite (crates/cli/tests/hostile_local.rs) as an unprivileged user, then the
# gateway suite (crates/cli/tests/gateway_local.rs: no secret in the sandbox, git through the
# gateway, restricted network), then the local backend's suites about what lies outside the
# sandbox (crates/local/tests/restricted_network.rs, local_repos.rs; their helper binary copied
# too, named by AXON_TEST_HELPER).
#
# As root (CI): builds the suites, creates the system user `axon-ci` (no login; idempotent),
# copies the `axon` binary and the `hostile_local` test binary into a fresh world-readable
# directory, and runs the tests there as that user (setpriv), in a clean environment whose
# HOME, TMPDIR and scratch directory (AXON_TEST_TMPDIR) are directories the user owns, with
# AXON_TEST_BIN naming the copied `axon`: nothing needs the checkout to be readable by it.
# The directory is under /var/tmp, not /tmp (the sandbox replaces /tmp, which would hide the
# planted canaries whatever the sandbox does); AXON_UNPRIVILEGED_DIR overrides the parent.
# Not root: runs the suites as the current user.
#
# Arguments go to the hostile suite's binary (a name filter, --test-threads N, --nocapture).
# Exits non-zero when any of the runs failed, and repeats the hostile suite's summary line last.
set -euo pipefail
cd "$(dirname "$0")/.."
user=${AXON_CI_USER:-axon-ci}

if [ "$(id -u)" -ne 0 ]; then
  echo "== hostile suite as $(id -un) (not root: no user switch)"
  status=0
  cargo test -p axon-cli --test hostile_local -- "$@" || status=$?
  cargo test -p axon-cli --test gateway_local || status=$?
  cargo test -p axon-local --test restricted_network --test local_repos || status=$?
  exit "$status"
fi

# Build; take the binaries' paths from Cargo's messages.
artifacts=$(cargo test -p axon-cli --test hostile_local --test gateway_local --no-run --message-format=json)
artifacts+=$'\n'$(cargo test -p axon-local --test restricted_network --test local_repos --no-run --message-format=json)
executable() {
  printf '%s\n' "$artifacts" | python3 -c '
import json, sys
kind, name = sys.argv[1], sys.argv[2]
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    t = m.get("target") or {}
    if m.get("reason") == "compiler-artifact" and m.get("executable") \
            and t.get("name") == name and kind in t.get("kind", []):
        print(m["executable"])
' "$1" "$2" | tail -n 1
}
test_bin=$(executable test hostile_local)
axon_bin=$(executable bin axon)
helper_bin=$(executable bin axon-local-helper)
cli_suites=(gateway_local)
local_suites=(restricted_network local_repos)
if [ -z "$test_bin" ] || [ -z "$axon_bin" ] || [ -z "$helper_bin" ]; then
  echo "test-unprivileged: cannot find the built binaries (test: '$test_bin', axon: '$axon_bin', helper: '$helper_bin')" >&2
  exit 2
fi

if ! id -u "$user" >/dev/null 2>&1; then
  useradd --system --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin "$user"
fi

parent=${AXON_UNPRIVILEGED_DIR:-/var/tmp}
dir=$(mktemp -d "$parent/axon-unprivileged.XXXXXX")
trap 'rm -rf "$dir"' EXIT
chmod 0755 "$dir"
mkdir -m 0755 "$dir/bin"
install -m 0755 "$axon_bin" "$dir/bin/axon"
install -m 0755 "$test_bin" "$dir/bin/hostile_local"
install -m 0755 "$helper_bin" "$dir/bin/axon-local-helper"
for suite in "${cli_suites[@]}" "${local_suites[@]}"; do
  suite_bin=$(executable test "$suite")
  if [ -z "$suite_bin" ]; then
    echo "test-unprivileged: cannot find the built test binary $suite" >&2
    exit 2
  fi
  install -m 0755 "$suite_bin" "$dir/bin/$suite"
done
for d in home tmp scratch; do
  install -d -m 0700 -o "$user" -g "$user" "$dir/$d"
done

# Runs "$dir/bin/$1" as the user in a clean environment; the other arguments are extra
# variables (NAME=VALUE) before the suite's own arguments, separated by --.
as_user() {
  local suite=$1 vars=()
  shift
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do vars+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  (
    cd "$dir"
    exec setpriv --reuid "$user" --regid "$user" --init-groups \
      env -i \
      PATH=/usr/local/bin:/usr/bin:/bin \
      LANG=C.UTF-8 \
      HOME="$dir/home" \
      TMPDIR="$dir/tmp" \
      AXON_TEST_TMPDIR="$dir/scratch" \
      RUST_BACKTRACE="${RUST_BACKTRACE:-0}" \
      "${vars[@]}" \
      "$dir/bin/$suite" "$@"
  )
}

echo "== hostile suite as $user (uid $(id -u "$user")) in $dir"
log="$dir/run.log"
set +e
as_user hostile_local AXON_TEST_BIN="$dir/bin/axon" -- "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
summary=$(grep -E '^test result:' "$log" | tail -n 1 || true)
for suite in "${cli_suites[@]}"; do
  echo "== $suite as $user"
  as_user "$suite" AXON_TEST_BIN="$dir/bin/axon" || status=$?
done
for suite in "${local_suites[@]}"; do
  echo "== $suite as $user"
  as_user "$suite" AXON_TEST_HELPER="$dir/bin/axon-local-helper" || status=$?
done
set -e
echo "== hostile suite as $user: ${summary:-no summary (exit $status)}"
exit "$status"
