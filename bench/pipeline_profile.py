#!/usr/bin/env python3
"""Where a dependency → dependant start goes, from bench/pipeline.sh's chains.

    AXON_PROFILE=/tmp/axon-pipeline.log bench/pipeline.sh && bench/pipeline_profile.py /tmp/axon-pipeline.log

Each line of the log is `MICROS PID STEP` (axon_local's profile marks, written by the engine
and the supervisors). For every chain edge `cN-(j-1)` → `cN-j` it takes the dependency's
supervisor from its agent's exit to its status write, the engine's pass that started the
dependant (from its wake-up: the last `pass` mark before `supervisor spawned cN-j`), and the
dependant's supervisor up to its sandbox's start, and prints the median and p90 of each step.
The sandbox's and the agent's own start (after `starting the sandbox`) are not marked: they
are the rest of the benchmark's latency.
"""
import collections
import re
import sys


def main(path):
    lines = []
    for line in open(path):
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
            lines.append((int(parts[0]), int(parts[1]), parts[2].strip()))
    lines.sort()
    pid_of = {}  # Task name -> its supervisor's pid
    for _, pid, step in lines:
        m = re.fullmatch(r"task read (\S+)", step)
        if m:
            pid_of[m.group(1)] = pid
    by_pid = collections.defaultdict(list)
    for t, pid, step in lines:
        by_pid[pid].append((t, step))

    def at(pid, step):
        return next((t for t, s in by_pid.get(pid, []) if s == step), None)

    steps = collections.defaultdict(list)
    order = []

    def add(name, a, b):
        if a is None or b is None:
            return
        if name not in order:
            order.append(name)
        steps[name].append((b - a) / 1000)

    edges = 0
    for name, pid in pid_of.items():
        m = re.fullmatch(r"c(\d+)-(\d+)", name)
        if not m or m.group(2) == "0":
            continue
        dep = f"c{m.group(1)}-{int(m.group(2)) - 1}"
        dpid = pid_of.get(dep)
        spawned = next(
            ((t, p) for t, p, s in lines if s == f"supervisor spawned {name}"), None
        )
        if dpid is None or spawned is None:
            continue
        edges += 1
        engine = spawned[1]
        exited, stored = at(dpid, "agent exited"), at(dpid, "status stored")
        pass_start = max(
            (t for t, s in by_pid[engine] if s == "pass" and t <= spawned[0]),
            default=None,
        )
        decided = next(
            (t for t, s in by_pid[engine] if s == "pass decided" and pass_start and t >= pass_start),
            None,
        )
        add("dependency: agent exited → status stored", exited, stored)
        add("engine: status stored → pass begins", stored, pass_start)
        add("engine: pass → decided (observe, gate)", pass_start, decided)
        add("engine: decided → supervisor spawned", decided, spawned[0])
        add("supervisor: spawned → running", spawned[0], at(pid, "supervisor running"))
        add("supervisor: running → task read", at(pid, "supervisor running"), at(pid, "task read " + name))
        add("supervisor: task read → gateway started", at(pid, "task read " + name), at(pid, "gateway started"))
        add("supervisor: gateway → starting the sandbox", at(pid, "gateway started"), at(pid, "starting the sandbox"))
        add("total: agent exited → starting the sandbox", exited, at(pid, "starting the sandbox"))
    if not edges:
        sys.exit("no chain edge in the log")

    def pct(v, p):
        v = sorted(v)
        return v[min(len(v) - 1, int(len(v) * p))]

    print(f"{edges} chain edges: median and p90 of each step (ms)")
    for name in order:
        print(f"  {name:48s} {pct(steps[name], 0.5):7.1f} {pct(steps[name], 0.9):7.1f}")
    passes = []
    for pid, evs in by_pid.items():
        begun = None
        for t, s in evs:
            if s == "pass":
                begun = t
            elif s == "pass decided" and begun is not None:
                passes.append((t - begun) / 1000)
                begun = None
    if passes:
        print(f"  every engine pass, observe and decide ({len(passes)} passes): "
              f"median {pct(passes, 0.5):.1f} ms, p90 {pct(passes, 0.9):.1f} ms")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/axon-pipeline.log")
