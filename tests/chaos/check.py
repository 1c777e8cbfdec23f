"""The chaos suite's checker: what must hold once the faults have healed.

  1. convergence: every peer holds the same heads and state digest, with
     nothing wanted or pending, within CONVERGE_S of the heal;
  2. no acknowledged write lost: every CID whose POST /pins answered 200 and
     was never the target of a DELETE is in every peer's GET /allocations;
     every CID whose DELETE answered 200 is in none; the listings are equal;
  3. IPFS holds exactly the allocations: each peer's js-ipfs daemon pins,
     recursively, exactly the pins allocated to that peer or to everyone
     (within IPFS_S, 3 minutes: failed operations back off, and js-ipfs is
     slow on a loaded machine).

A write that failed or timed out may or may not have happened; it is
counted, never asserted. Python stdlib only."""

import json
import os
import threading
import time

import rig as rigmod

CONVERGE_S = 60
IPFS_S = 180


def outcomes(log_path):
    """{cid: {"pin": ok, "unpin": None | ok}} from the writer's log."""
    ops = {}
    with open(log_path) as f:
        for line in f:
            e = json.loads(line)
            ops.setdefault(e["cid"], {"pin": None, "unpin": None})[e["op"]] = e["ok"]
    return ops


def expected(ops):
    present = {c for c, o in ops.items() if o["pin"] and o["unpin"] is None}
    absent = {c for c, o in ops.items() if o["unpin"]}
    return present, absent


def summary(ops):
    pins = [o["pin"] for o in ops.values()]
    unpins = [o["unpin"] for o in ops.values() if o["unpin"] is not None]
    return ("%d pins (%d acknowledged), %d unpins (%d acknowledged)"
            % (len(pins), sum(pins), len(unpins), sum(unpins)))


def converged(peers):
    infos = [p.ctl("info", timeout=5) for p in peers]
    states = {(i["state"], tuple(sorted(i["heads"]))) for i in infos}
    settled = all(i["wants"] == 0 and i["pending"] == 0 for i in infos)
    return len(states) == 1 and settled, [(i["keys"], i["blocks"], i["wants"], i["pending"])
                                          for i in infos]


def wait(cond, timeout, progress=None):
    """(seconds taken or None, the last value cond returned); progress(last)
    every 10 s while waiting."""
    t = time.monotonic()
    last = None
    shown = t
    while time.monotonic() - t < timeout:
        try:
            ok, last = cond()
            if ok:
                return time.monotonic() - t, last
        except (OSError, RuntimeError, ValueError) as e:
            last = str(e)
        if progress and time.monotonic() - shown >= 10:
            progress(last)
            shown = time.monotonic()
        time.sleep(0.1)
    return None, last


def listings(rig):
    """Every peer's GET /allocations?filter=all, fetched from the client."""
    out = []
    for p in rig.peers:
        path = os.path.join(rig.root, "allocations%d.json" % p.index)
        rig.client(["allocations", p.rest, rigmod.USER, rigmod.PASSWORD, path])
        with open(path) as f:
            out.append(json.load(f))
    return out


def check_state(lists, present, absent):
    problems = []
    for i, pins in enumerate(lists):
        lost = sorted(present - pins.keys())
        back = sorted(absent & pins.keys())
        if lost:
            problems.append("peer %d lost %d acknowledged pins, e.g. %s" % (i, len(lost), lost[:3]))
        if back:
            problems.append("peer %d holds %d pins whose removal was acknowledged, e.g. %s"
                            % (i, len(back), back[:3]))
        if pins != lists[0]:
            diff = sorted(k for k in set(pins) | set(lists[0])
                          if pins.get(k) != lists[0].get(k))[:3]
            problems.append("peer %d's listing differs from peer 0's (e.g. %s)" % (i, diff))
    return problems


def ipfs_pins(rig):
    """Each peer's js-ipfs recursive pins, read inside its namespace."""
    pins = [None] * len(rig.peers)

    def read(i):
        path = os.path.join(rig.root, "ipfs-pins%d.json" % i)
        rig.client(["ipfs-pins", "127.0.0.1:5001", path], ns=i)
        with open(path) as f:
            pins[i] = set(json.load(f))

    threads = [threading.Thread(target=read, args=(i,)) for i in range(len(rig.peers))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return pins


def allocated(rig, listing):
    """The CIDs each peer's daemon must pin."""
    want = []
    for p in rig.peers:
        want.append({c for c, allocs in listing.items() if not allocs or p.id in allocs})
    return want


def check_ipfs(rig, listing):
    """(seconds until every daemon matched, problems)."""
    want = allocated(rig, listing)

    def cond():
        have = ipfs_pins(rig)
        diffs = [(len(w - h), len(h - w)) for w, h in zip(want, have)]
        return all(d == (0, 0) for d in diffs), (diffs, have)

    took, last = wait(cond, IPFS_S)
    if took is not None:
        return took, []
    if isinstance(last, str):
        return None, ["reading the IPFS pins failed: " + last]
    diffs, have = last
    problems = []
    for i, ((missing, extra), w, h) in enumerate(zip(diffs, want, have)):
        if missing or extra:
            problems.append("js-ipfs of peer %d: %d allocated pins missing (e.g. %s), %d extra "
                            "(e.g. %s)" % (i, missing, sorted(w - h)[:2], extra,
                                           sorted(h - w)[:2]))
    return None, problems
