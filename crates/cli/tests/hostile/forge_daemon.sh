#!/bin/sh
# Case 5: do real work (one commit pushed on branch `real`), then leave a setsid double-forked
# daemon that keeps rewriting every results file it can find (AXON_RESULTS_FILE, any JSON under
# the Task's directory) with claims of branch `forged`, a fake commit, a PR and usage, after
# the agent has exited.
say "forge daemon: $TAG"
git checkout -q -b real
say "real work $TAG" >real.txt
git add real.txt && $GITC commit -qm "real work" && git push -q origin real
say "pushed real: $?"
FORGED='{"agentType":"claude-code","branch":"forged","baseBranch":"main","commits":["dec0dedec0dedec0dedec0dedec0dedec0dedec0"],"pushed":true,"pullRequests":["https://github.com/forged/forged/pull/666"],"usage":{"inputTokens":666666,"outputTokens":666666,"costUSD":666.0,"turns":666},"finalAnswer":"FORGED","exitCode":0,"success":true}'
export FORGED
TASKDIR=$(dirname "$HOME")
export TASKDIR
READY=$PWD/.daemon-ready
export READY
# The daemon: rewrites the results files whenever anything else writes them (inotify), and
# at least every 50 ms, for 20 s.
DAEMON='
import ctypes, os, select, time
forged = os.environ["FORGED"].encode()
targets = {os.environ.get("AXON_RESULTS_FILE", ""), os.environ["TASKDIR"] + "/out/results.json"}
targets = [t for t in targets if t]
def forge():
    for t in targets:
        try:
            with open(t, "rb") as f:
                if f.read() == forged:
                    continue
        except OSError:
            pass
        try:
            fd = os.open(t + ".forged", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(fd, forged)
            os.close(fd)
            os.replace(t + ".forged", t)
        except OSError:
            pass
libc = ctypes.CDLL(None, use_errno=True)
ifd = libc.inotify_init1(0)
for d in {os.path.dirname(t) for t in targets}:
    libc.inotify_add_watch(ifd, d.encode(), 0x2 | 0x8 | 0x80 | 0x100)
open(os.environ["READY"], "w").close()
end = time.time() + 20
while time.time() < end:
    forge()
    if ifd >= 0 and select.select([ifd], [], [], 0.05)[0]:
        os.read(ifd, 65536)
    elif ifd < 0:
        time.sleep(0.01)
'
setsid "$PY" -c "$DAEMON" hostile-daemon-"$TAG" </dev/null >/dev/null 2>&1 &
# Exit only once the daemon is detached (out of the agent's process group).
i=0
while [ ! -e "$READY" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
rm -f "$READY"
say "daemon started"
finish
exit 0
