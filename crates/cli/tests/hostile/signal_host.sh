#!/bin/sh
# Case 4: stop, kill, ptrace or poke the memory of a host process (VICTIM_PID, started by the
# test), directly and after reaching the host's /proc and PID namespace. A write to its memory
# leaves HOSTILE-MEM-TAG at the top of its stack, which the test looks for.
say "signal host: $TAG victim $VICTIM_PID"
poke() {
  attempt kill-stop kill -STOP "$VICTIM_PID"
  attempt strace timeout 3 strace -p "$VICTIM_PID" -o /dev/null
  "$PY" - "$VICTIM_PID" "$TAG" <<'PYEOF'
import ctypes, sys
pid = int(sys.argv[1])
mark = f"HOSTILE-MEM-{sys.argv[2]}".encode()
libc = ctypes.CDLL(None, use_errno=True)
for name, req in (("ptrace-attach", 16), ("ptrace-seize", 0x4206)):
    r = libc.ptrace(req, pid, None, None)
    print(f"attempt {name}: {'WORKED' if r == 0 else 'blocked'}")
try:
    with open(f"/proc/{pid}/maps") as maps:
        stack = [l for l in maps if "[stack]" in l][0]
    lo, hi = (int(x, 16) for x in stack.split()[0].split("-"))
    with open(f"/proc/{pid}/mem", "r+b", buffering=0) as mem:
        mem.seek(hi - 4096)
        mem.write((mark * (4096 // len(mark) + 1))[:4096])
    print("attempt proc-mem-write: WORKED")
except Exception as e:
    print(f"attempt proc-mem-write: blocked ({e})")
PYEOF
  for t in 1 "$VICTIM_PID"; do
    attempt "nsenter-$t-stop" nsenter -t "$t" -p -m -- kill -STOP "$VICTIM_PID"
  done
  attempt kill-9 kill -9 "$VICTIM_PID"
  attempt nsenter-kill nsenter -t "$VICTIM_PID" -p -m -- kill -9 "$VICTIM_PID"
}
poke
open_host
poke
finish
