#!/usr/bin/env python3
"""Per-step breakdown of bench/local.sh's sequential Tasks.

    AXON_PROFILE=/tmp/axon-profile.log bench/local.sh && bench/local_profile.py /tmp/axon-profile.log

Each line of the log is `MICROS PID STEP` (written by axon_local::profile_mark in the
benchmark, the engine and the supervisors). For every sequential Task (from `bench apply` to
`bench done`) it takes the time since the previous step, and prints the median per step.
"""
import collections
import sys


def main(path):
    events = []
    for line in open(path):
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
            events.append((int(parts[0]), parts[2].strip()))
    runs, cur = [], None
    for t, step in events:
        if step == "bench apply":
            cur = [(t, step)]
        elif cur is not None:
            cur.append((t, step))
            if step == "bench done":
                runs.append(cur)
                cur = None
    if not runs:
        sys.exit("no complete Task in the log")
    steps, order = collections.defaultdict(list), []
    for run in runs:
        prev, seen = run[0][0], set()
        for t, step in run[1:]:
            if step in seen:
                continue
            seen.add(step)
            if step not in order:
                order.append(step)
            steps[step].append((t - prev) / 1000)
            prev = t

    def median(v):
        v = sorted(v)
        return v[len(v) // 2]

    print(f"{len(runs)} sequential Tasks: median time of each step since the previous one")
    for step in order:
        print(f"  {step:22s} {median(steps[step]):7.1f} ms")
    print(f"  {'total':22s} {median([(r[-1][0] - r[0][0]) / 1000 for r in runs]):7.1f} ms")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/axon-profile.log")
