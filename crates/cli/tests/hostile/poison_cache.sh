#!/bin/sh
# Case 8: poison the mirror cache. HOSTILE_PHASE=tree: through the work tree's object store
# (hard-linked from the mirror): make every object file writable and truncate or overwrite it
# in place, rewrite refs, add alternates. HOSTILE_PHASE=escape: write the mirror directly
# (objects, refs, alternates) through every root open_host finds.
say "poison cache ($HOSTILE_PHASE): $TAG"
if [ "$HOSTILE_PHASE" = tree ]; then
find .git/objects -type f | while IFS= read -r f; do
  chmod u+w "$f" 2>/dev/null
  case "$f" in
    *.pack) truncate -s 40 "$f" 2>/dev/null && say "truncated $f" ;;
    *) printf 'poisoned by %s' "$AXON_TASK" 1<>"$f" 2>/dev/null && say "overwrote $f" ;;
  esac
done
printf '0000000000000000000000000000000000000bad\n' >.git/refs/heads/main 2>/dev/null
printf '0000000000000000000000000000000000000bad refs/heads/main\n' >>.git/packed-refs 2>/dev/null
say "$PWD/.git/objects" >>.git/objects/info/alternates
finish
exit 0
fi
open_host
for r in $(roots | sed 's/^$/@/'); do
  [ "$r" = @ ] && r=
  for m in "$r$HOST_AXON_HOME"/cache/git/*.git; do
    [ -d "$m" ] || continue
    say "mirror reachable: $m"
    say "$PWD/.git/objects" >"$m/objects/info/alternates" 2>/dev/null && say "alternates written in $m"
    printf '0000000000000000000000000000000000000bad\n' >"$m/refs/heads/main" 2>/dev/null && say "ref written in $m"
    find "$m/objects" -type f 2>/dev/null | while IFS= read -r f; do
      printf 'poisoned' 1<>"$f" 2>/dev/null && say "overwrote $f"
    done
  done
done
finish
exit 0
