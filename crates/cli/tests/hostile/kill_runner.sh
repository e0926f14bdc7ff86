#!/bin/sh
# Case 6: do real work (branch `real` pushed), write forged results, SIGKILL the runner
# ($PPID) and every ancestor it can see, then keep writing forged results until killed.
say "kill runner: $TAG"
git checkout -q -b real
say "real work $TAG" >real.txt
git add real.txt && $GITC commit -qm "real work" && git push -q origin real
FORGED='{"agentType":"claude-code","branch":"forged","baseBranch":"main","commits":["dec0dedec0dedec0dedec0dedec0dedec0dedec0"],"pushed":true,"pullRequests":["https://github.com/forged/forged/pull/666"],"usage":{"inputTokens":666666,"outputTokens":666666,"costUSD":666.0,"turns":666},"finalAnswer":"FORGED","exitCode":0,"success":true}'
TASKDIR=$(dirname "$HOME")
forge() {
  for f in "$AXON_RESULTS_FILE" "$TASKDIR/out/results.json"; do
    # Atomically (write, then rename), so that a reader never sees a half-written file.
    [ -n "$f" ] && printf '%s' "$FORGED" >"$f.forged" 2>/dev/null && mv -f "$f.forged" "$f" 2>/dev/null
  done
}
forge
finish
p=$PPID
while [ -n "$p" ] && [ "$p" -gt 1 ]; do
  next=$(awk '/^PPid:/ {print $2}' "/proc/$p/status" 2>/dev/null)
  say "killing ancestor $p ($(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-60))"
  kill -9 "$p"
  p=$next
done
end=$(( $(date +%s) + 10 ))
while [ "$(date +%s)" -lt "$end" ]; do forge; sleep 0.01; done
exit 0
