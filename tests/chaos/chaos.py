#!/usr/bin/env python3
"""Chaos: five trellisd peers (each in its own network namespace, with its
own js-ipfs daemon) under a REST write load while seeded faults hit them;
after the faults heal, nothing acknowledged is lost and everything converges.

  chaos.py TRELLISD [--seed N] [--long] [--duration S] [--keep]

--seed N reruns one schedule (default: drawn from the clock, printed first).
The short form (default, 40 s of faults) runs each fault kind once; --long
runs 300 s of faults drawn at random (--duration overrides either). --keep
leaves the data folders and logs in /tmp/trellis-chaos-PID (the tmpfs peer's in
disk-copy).

The rig (rig.py): peers 1-4 each take a role drawn from the seed: a link
through a userspace delay wire (wire.py), a data folder on a small tmpfs, a
wall clock minutes off (faketime), or a late start. Peer 0 holds 200,000
preloaded keys, so the late joiner has a real sync to be killed in. The
faults (faults.py): partitions, packet loss, a slow link, kill -9 under load,
kill -9 during the join sync, SIGSTOP/SIGCONT, a full disk. The writer
(client.py, in its own namespace) pins fresh CIDs and unpins acknowledged
ones on random peers throughout. The checks are in check.py; a peer that
exits on its own fails the run.

Needs root, iptables and faketime, and js-ipfs (tools/ipfs-install);
otherwise exits 77 (skipped). Prints the seed, the roles, the fault log with
times, the write counts and the convergence times; on failure, the command
that reruns the seed. Python stdlib only."""

import json
import os
import random
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))
import check  # noqa: E402
import faults  # noqa: E402
import netns  # noqa: E402
import rig as rigmod  # noqa: E402
from ipfs_cluster_harness import jsipfs_problem  # noqa: E402

PRELOAD = 200000
WRITE_RATE = 25          # operations per second, all writers together
T0 = time.monotonic()


def log(msg):
    print("[%6.1fs] %s" % (time.monotonic() - T0, msg), flush=True)


def parse(argv):
    opts = {"seed": None, "long": False, "duration": None, "keep": False}
    args = argv[1:]
    if not args or args[0].startswith("-"):
        raise SystemExit(__doc__)
    opts["binary"] = os.path.abspath(args.pop(0))
    while args:
        a = args.pop(0)
        if a == "--seed" and args:
            opts["seed"] = int(args.pop(0))
        elif a == "--duration" and args:
            opts["duration"] = float(args.pop(0))
        elif a in ("--long", "--keep"):
            opts[a[2:]] = True
        else:
            raise SystemExit("chaos.py: unknown argument %s\n%s" % (a, __doc__))
    if opts["seed"] is None:
        opts["seed"] = int(time.time() * 1000) % 1000000
    if opts["duration"] is None:
        opts["duration"] = 300.0 if opts["long"] else 40.0
    return opts


def problem():
    reason = netns.available() or jsipfs_problem()
    if reason is None:
        try:
            rigmod.libfaketime()
        except RuntimeError as e:
            reason = str(e)
    return reason


def put_content(rig, count, seed):
    """The same random blocks in every daemon; returns their CIDs."""
    paths = [os.path.join(rig.root, "cids%d.txt" % i) for i in range(len(rig.peers))]
    threads = [threading.Thread(target=rig.client,
                                args=(["content", "127.0.0.1:5001", str(count), str(seed), path],),
                                kwargs={"ns": i})
               for i, path in enumerate(paths)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    lists = [open(p).read().split() for p in paths]
    assert all(len(cids) == count and cids == lists[0] for cids in lists), \
        "the daemons disagree on the content's CIDs"
    return paths[0]


def start_cluster(rig):
    joiner = rig.roles["joiner"]
    running = [p for p in rig.peers if p.index != joiner]
    for p in running:
        p.start()
    rig.peers[0].ctl("load %d /chaos/preload 2000" % PRELOAD, timeout=300)
    took, last = check.wait(lambda: check.converged(running), 120)
    assert took is not None, "the first 4 peers did not converge: %s" % (last,)
    log("4 peers up, %d preloaded keys everywhere in %.1f s" % (PRELOAD, took))


def run_schedule(rig, injector, plan, duration):
    t0 = time.monotonic()
    active = []
    plan = sorted(plan, key=lambda f: f.at)
    while plan or active:
        now = time.monotonic() - t0
        for f in [f for f in active if f.end <= now]:
            injector.heal(f)
            active.remove(f)
        while plan and plan[0].at <= now:
            f = plan.pop(0)
            if injector.apply(f):
                f.end = time.monotonic() - t0 + f.hold
                active.append(f)
        injector.check_alive()
        if now > duration + 60:
            raise AssertionError("the schedule overran by a minute")
        time.sleep(0.05)


def writer_config(rig, cids, seed):
    cfg = {"peers": [p.rest for p in rig.peers], "user": rigmod.USER,
           "password": rigmod.PASSWORD, "cids": cids, "seed": seed, "rate": WRITE_RATE,
           "workers": 8, "log": os.path.join(rig.root, "writes.jsonl"),
           "stop": os.path.join(rig.root, "writes.stop")}
    path = os.path.join(rig.root, "writer.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return cfg, path


def run(opts):
    rng = random.Random(opts["seed"])
    roles = dict(zip(["wired", "disk", "skewed", "joiner"], rng.sample(range(1, 5), 4)))
    skew = rng.choice([-1, 1]) * rng.randint(2, 10) * 60
    log("seed %d, %s form, %.0f s of faults; roles: %s; clock of peer %d off by %+d s"
        % (opts["seed"], "long" if opts["long"] else "short", opts["duration"],
           ", ".join("%s=peer %d" % kv for kv in roles.items()), roles["skewed"], skew))
    rig = rigmod.Rig(opts["binary"], roles, skew, log)
    netns.on_signals(rig.cleanup)
    failures = []
    try:
        rig.setup()
        cids = put_content(rig, int(WRITE_RATE * opts["duration"] * 0.9) + 200, opts["seed"])
        log("content in all 5 daemons")
        start_cluster(rig)
        cfg, cfg_path = writer_config(rig, cids, opts["seed"])
        writer = rig.client_popen(["write", cfg_path])
        injector = faults.Injector(rig, rng, log)
        plan = faults.schedule(rng, opts["duration"], opts["long"])
        run_schedule(rig, injector, plan, opts["duration"])
        open(cfg["stop"], "w").close()
        writer.wait(timeout=60)
        failures += ["peer %d exited on its own (%s); log tail:\n%s" % c for c in injector.crashes]
        for i in sorted(injector.down):
            rig.peers[i].start()
        log("faults healed, writer stopped, all peers running")
        failures += verify(rig, cfg["log"])
    finally:
        if failures or sys.exc_info()[0] is not None:
            for p in rig.peers:
                print("--- peer %d log tail ---\n%s" % (p.index, p.tail(25)))
        rig.cleanup(keep=opts["keep"])
        log("cleaned up")
    for f in failures:
        print("FAILED: " + f)
    return failures


def verify(rig, writes):
    ops = check.outcomes(writes)
    log("writes: " + check.summary(ops))
    took, last = check.wait(lambda: check.converged(rig.peers), check.CONVERGE_S,
                            lambda last: log("converging: (keys, blocks, wants, pending) "
                                             "by peer: %s" % (last,)))
    if took is None:
        return ["no convergence within %d s of the heal: %s" % (check.CONVERGE_S, last)]
    log("all 5 peers hold the same heads and state %.1f s after the heal" % took)
    present, absent = check.expected(ops)
    # A removal that crossed a re-allocation is undone by the next
    # maintenance pass (pinning/pin.h, kRemovedPrefix): poll, then judge.
    t = time.monotonic()
    first = True
    while True:
        lists = check.listings(rig)
        problems = check.check_state(lists, present, absent)
        if not problems or time.monotonic() - t > check.CONVERGE_S:
            break
        if first:
            log("not yet: " + "; ".join(problems))
            first = False
        time.sleep(1)
    log("state: %d pins on every peer; %d acknowledged pins present, %d acknowledged removals "
        "absent (%.1f s after convergence)" % (len(lists[0]), len(present), len(absent),
                                              time.monotonic() - t))
    took, more = check.check_ipfs(rig, lists[0])
    if took is not None:
        log("every js-ipfs daemon pins exactly its allocations (%.1f s later)" % took)
    return problems + more


def main(argv):
    opts = parse(argv)
    reason = problem()
    if reason:
        print("chaos: skipped: " + reason)
        return 77
    failures = run(opts)
    if failures:
        print("rerun this seed alone: %s %s --seed %d%s" % (
            argv[0], opts["binary"], opts["seed"], " --long" if opts["long"] else ""))
        return 1
    log("chaos: passed (seed %d)" % opts["seed"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
