#!/usr/bin/env bash
# The hostile-agent suite (crates/cli/tests/hostile_local.rs) as an unprivileged user.
#
# As root (CI): builds the suite, creates the system user `axon-ci` (no login; idempotent),
# copies the `axon` binary and the `hostile_local` test binary into a fresh world-readable
# directory, and runs the tests there as that user (setpriv), in a clean environment whose
# HOME, TMPDIR and scratch directory (AXON_TEST_TMPDIR) are directories the user owns, with
# AXON_TEST_BIN naming the copied `axon`: nothing needs the checkout to be readable by it.
# The directory is under /var/tmp, not /tmp (the sandbox replaces /tmp, which would hide the
# planted canaries whatever the sandbox does); AXON_UNPRIVILEGED_DIR overrides the parent.
# Not root: runs the suite as the current user.
#
# Arguments go to the test binary (a name filter, --test-threads N, --nocapture). Exits with
# the test run's status and repeats its summary line last.
set -euo pipefail
cd "$(dirname "$0")/.."
user=${AXON_CI_USER:-axon-ci}

if [ "$(id -u)" -ne 0 ]; then
  echo "== hostile suite as $(id -un) (not root: no user switch)"
  exec cargo test -p axon-cli --test hostile_local -- "$@"
fi

# Build; take both binaries' paths from Cargo's messages.
artifacts=$(cargo test -p axon-cli --test hostile_local --no-run --message-format=json)
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
if [ -z "$test_bin" ] || [ -z "$axon_bin" ]; then
  echo "test-unprivileged: cannot find the built binaries (test: '$test_bin', axon: '$axon_bin')" >&2
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
for d in home tmp scratch; do
  install -d -m 0700 -o "$user" -g "$user" "$dir/$d"
done

echo "== hostile suite as $user (uid $(id -u "$user")) in $dir"
log="$dir/run.log"
set +e
(
  cd "$dir"
  exec setpriv --reuid "$user" --regid "$user" --init-groups \
    env -i \
    PATH=/usr/local/bin:/usr/bin:/bin \
    LANG=C.UTF-8 \
    HOME="$dir/home" \
    TMPDIR="$dir/tmp" \
    AXON_TEST_TMPDIR="$dir/scratch" \
    AXON_TEST_BIN="$dir/bin/axon" \
    RUST_BACKTRACE="${RUST_BACKTRACE:-0}" \
    "$dir/bin/hostile_local" "$@"
) 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
summary=$(grep -E '^test result:' "$log" | tail -n 1 || true)
echo "== hostile suite as $user: ${summary:-no summary (exit $status)}"
exit "$status"
