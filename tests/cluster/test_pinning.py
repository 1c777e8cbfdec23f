#!/usr/bin/env python3
"""Pinning across real processes: 3 trellisd peers on loopback, each with its
own js-ipfs daemon (tests/ipfs/ipfsd.py; install with tools/ipfs-install).

  test_pinning.py TRELLISD [CASE...]      (default: every case)

Cases:
  replication  20 pins with replication=2 through one peer land on exactly
               their 2 allocated daemons, every peer's `status` agrees
               (pinned / remote) and the states converge; a replication=-1
               pin lands on all 3; unpin removes pins from every daemon.
  expiry       a pin with expire-in=6s on every peer is pinned, then removed
               from every daemon once expired (not before), within 30 s;
               a pin without expiry stays.
  repin        with replication=2 pins, one allocated peer's trellisd is
               killed; after the down-time (REPIN_AFTER_MS) every pin is on
               2 live daemons again; when the peer comes back it unpins what
               is no longer allocated to it (each pin on exactly 2 daemons).

The content is put into every daemon with `add pin=false`, so pinning never
fetches over bitswap. The 3 js-ipfs daemons are shared by the cases (each
case has its own trellisd peers and random content). Exit 77 (skip) when
js-ipfs is not installed and TRELLIS_ALLOW_SKIP=1; otherwise a missing
js-ipfs is a failure. TRELLIS_KEEP=1 keeps the data folders."""

import os
import signal
import sys
import time
import traceback

from ipfs_cluster_harness import POOL, PinningSetup, jsipfs_problem, log, wait

# config.json fields of the pinning agent, in ONE place (milliseconds).
METRICS_TTL_FIELD = "metrics_ttl_ms"  # how long a peer's metrics stay valid
REPIN_AFTER_FIELD = "repin_after_ms"  # down-time before its pins are re-allocated
METRICS_TTL_MS = 1000
REPIN_AFTER_MS = 3000
AGENT_CONFIG = {"pinning": {METRICS_TTL_FIELD: METRICS_TTL_MS, REPIN_AFTER_FIELD: REPIN_AFTER_MS}}

EXPIRE_IN_S = 6          # expire-in=6s
EXPIRY_GRACE_S = 30      # removal must happen within expiry + this
PIN_TIMEOUT_S = 60       # any pin/unpin to reach every daemon


def placement(s, cids, expected, peers=None, daemons=None):
    """cond() for wait(): every CID is pinned on exactly the daemons in
    expected[cid] (among `daemons`), the `peers` have converged, and each of
    them reports status "pinned" for CIDs allocated to it and "remote" (or
    "unpinned" when expected[cid] is None: the pin is gone) for the others."""
    peers = peers if peers is not None else s.peers
    daemons = daemons if daemons is not None else list(range(s.n))
    by_daemon = s.pins_by_daemon(daemons)
    wrong = []
    for cid in cids:
        want = expected[cid] or set()
        got = s.pinned_on(cid, by_daemon)
        if got != want & set(daemons):
            wrong.append("%s on daemons %s, want %s" % (cid[:12], sorted(got), sorted(want)))
    if wrong:
        return False, "%d CIDs misplaced, e.g. %s" % (len(wrong), "; ".join(wrong[:3]))
    ok, summary = s.converged(peers)
    if not ok:
        return False, "not converged: (keys, state, wants, pending) %s" % summary
    for p in peers:
        for cid in cids:
            st = s.status(p, cid)
            want = ("unpinned" if expected[cid] is None
                    else "pinned" if p.index in expected[cid] else "remote")
            if st["status"] != want:
                return False, "peer %d: status %s = %s, want %s" % (
                    p.index, cid[:12], st, want)
            if "allocations" in st and expected[cid] is not None:
                alloc = {s.index_of.get(a, a) for a in st["allocations"]}
                if alloc and alloc != expected[cid]:
                    return False, "peer %d: %s allocations %s, want %s" % (
                        p.index, cid[:12], sorted(alloc, key=str), sorted(expected[cid]))
    return True, "ok"


def allocated_indexes(s, reply, want):
    alloc = reply["allocations"]
    assert len(alloc) == want, "pin %s: %d allocations, want %d: %s" % (
        reply["cid"], len(alloc), want, reply)
    unknown = [a for a in alloc if a not in s.index_of]
    assert not unknown, "pin %s allocated to unknown peers %s" % (reply["cid"], unknown)
    return {s.index_of[a] for a in alloc}


def expect_error(peer, line, fragment):
    """`ctl LINE` must fail with an error that contains `fragment`."""
    try:
        reply = peer.ctl(line)
    except RuntimeError as e:
        assert fragment in str(e), "ctl %s: error %r lacks %r" % (line, str(e), fragment)
        return
    raise AssertionError("ctl %s succeeded: %s" % (line, reply))


def replication(binary):
    with PinningSetup(binary, 3, name="replication") as s:
        s.start()
        cids = s.add_content(21)
        s.wait_mesh(30)
        pins, everywhere = cids[:20], cids[20]

        # Bad requests are refused with a message that says what is wrong.
        p = s.peers[0]
        expect_error(p, "pin notacid", "pin:")
        expect_error(p, "pin %s colour=blue" % pins[0], "unknown option")
        expect_error(p, "pin %s min=3 max=2" % pins[0], "min (3) is larger than max (2)")
        expect_error(p, "pin %s min=-1 max=2" % pins[0], "both")
        expect_error(p, "pin %s replication=5" % pins[0], "not enough peers to allocate")
        expect_error(p, "pin %s expire-in=soon" % pins[0], "expire-in")
        expect_error(p, "pin %s mode=sideways" % pins[0], "recursive or direct")
        expect_error(p, "pin %s pin-update=%s" % (pins[0], pins[1]), "not pinned")
        expect_error(p, "unpin %s" % pins[0], "not pinned in the cluster")
        s.pin(p, everywhere, "replication=-1")
        expect_error(p, "pin %s mode=direct" % everywhere, "downgrade")
        p.ctl("unpin %s" % everywhere)
        log("bad pin requests refused with clear errors")

        t = time.monotonic()
        expected = {}
        for cid in pins:
            reply = s.pin(s.peers[0], cid, "replication=2")
            expected[cid] = allocated_indexes(s, reply, 2)
        per_peer = [sum(i in e for e in expected.values()) for i in range(3)]
        log("pinned %d CIDs with replication=2 through peer 0 in %.2f s; allocations per peer: %s"
            % (len(pins), time.monotonic() - t, per_peer))
        wait(lambda: placement(s, pins, expected), PIN_TIMEOUT_S,
             "each of %d pins on exactly its 2 allocated daemons, status pinned/remote on "
             "every peer, states converged" % len(pins))

        reply = s.pin(s.peers[1], everywhere, "replication=-1")
        assert reply["allocations"] == [], reply
        expected[everywhere] = {0, 1, 2}
        wait(lambda: placement(s, [everywhere], expected), PIN_TIMEOUT_S,
             "the replication=-1 pin (through peer 1) on all 3 daemons")
        # The replication=2 pins are still exactly where they were.
        ok, detail = placement(s, pins, expected)
        assert ok, "after the replication=-1 pin: %s" % detail

        s.peers[2].ctl("unpin %s" % everywhere)
        expected[everywhere] = None
        wait(lambda: placement(s, [everywhere], expected), PIN_TIMEOUT_S,
             "the replication=-1 pin unpinned (through peer 2) from all 3 daemons")

        t = time.monotonic()
        for i, cid in enumerate(pins):
            s.peers[i % 3].ctl("unpin %s" % cid)
            expected[cid] = None
        log("unpinned the %d replication=2 pins through all 3 peers in %.2f s"
            % (len(pins), time.monotonic() - t))
        wait(lambda: placement(s, cids, expected), PIN_TIMEOUT_S,
             "every pin gone from every daemon, status unpinned everywhere")
        log("replication: ok")


def expiry(binary):
    with PinningSetup(binary, 3, config=AGENT_CONFIG, name="expiry") as s:
        s.start()
        expiring, lasting = s.add_content(2)
        s.wait_mesh(30)

        t_pin = time.monotonic()
        s.pin(s.peers[0], expiring, "replication=-1 expire-in=%ds" % EXPIRE_IN_S)
        expires = t_pin + EXPIRE_IN_S  # the peer's expire_at is no earlier than this
        s.pin(s.peers[1], lasting, "replication=-1")
        everywhere = {0, 1, 2}
        expected = {expiring: everywhere, lasting: everywhere}
        wait(lambda: placement(s, [expiring, lasting], expected), EXPIRE_IN_S - 0.5,
             "the expiring (expire-in=%ds) and the lasting pin on all 3 daemons before expiry"
             % EXPIRE_IN_S)

        first_gone = []

        def removed():
            on = s.pinned_on(expiring)
            if on != everywhere and not first_gone:
                first_gone.append(time.monotonic())
            if on:
                return False, "still on daemons %s (%.1f s to expiry)" % (
                    sorted(on), expires - time.monotonic())
            return placement(s, [expiring, lasting], {expiring: None, lasting: everywhere})

        wait(removed, expires - time.monotonic() + EXPIRY_GRACE_S,
             "the expired pin removed from all 3 daemons and the state (status unpinned), "
             "within expiry + %d s" % EXPIRY_GRACE_S)
        early = expires - first_gone[0]
        assert early < 0.5, "the pin left a daemon %.1f s BEFORE it expired" % early
        log("first daemon unpinned it %.1f s after expiry; the lasting pin is still everywhere"
            % -early)
        log("expiry: ok")


def repin(binary):
    with PinningSetup(binary, 3, config=AGENT_CONFIG, name="repin") as s:
        s.start()
        cids = s.add_content(10, sizes=[1024 * (i + 1) for i in range(10)])
        s.wait_mesh(30)

        expected = {}
        for cid in cids:
            expected[cid] = allocated_indexes(s, s.pin(s.peers[0], cid, "replication=2"), 2)
        per_peer = [sum(i in e for e in expected.values()) for i in range(3)]
        log("pinned %d CIDs with replication=2 through peer 0; allocations per peer: %s"
            % (len(cids), per_peer))
        wait(lambda: placement(s, cids, expected), PIN_TIMEOUT_S,
             "each pin on exactly its 2 allocated daemons")

        # Stop the allocated peer (not peer 0, which we talk to) holding most pins.
        victim = max((1, 2), key=lambda i: (per_peer[i], -i))
        moved = [c for c in cids if victim in expected[c]]
        live = [p for p in s.peers if p.index != victim]
        live_ix = {p.index for p in live}
        s.peers[victim].kill(signal.SIGKILL)
        t_kill = time.monotonic()
        log("killed peer %d (SIGKILL; its js-ipfs daemon stays up), which held %d of the pins; "
            "%s=%d, %s=%d" % (victim, len(moved), REPIN_AFTER_FIELD, REPIN_AFTER_MS,
                              METRICS_TTL_FIELD, METRICS_TTL_MS))

        first_move = []
        after = {c: live_ix for c in cids}  # 2 live peers, replication 2: both pin everything

        def repinned():
            if not first_move and any(s.pinned_on(c, indexes=live_ix) == live_ix for c in moved):
                first_move.append(time.monotonic())
            return placement(s, cids, after, peers=live, daemons=sorted(live_ix))

        budget = (REPIN_AFTER_MS + METRICS_TTL_MS) / 1000 + 30
        wait(repinned, budget, "the %d pins of peer %d re-allocated: every pin on both live "
             "daemons %s, status pinned on both live peers" % (len(moved), victim, sorted(live_ix)))
        took = time.monotonic() - t_kill
        floor = (REPIN_AFTER_MS - METRICS_TTL_MS) / 1000 - 0.5
        if first_move:
            early = first_move[0] - t_kill
            assert early >= floor, ("a pin moved %.1f s after the kill, before the down-time "
                                    "(%s=%d)" % (early, REPIN_AFTER_FIELD, REPIN_AFTER_MS))
        log("re-pinned on the live daemons %.1f s after the kill (down-time %.1f s)"
            % (took, REPIN_AFTER_MS / 1000))

        s.peers[victim].start()
        wait(lambda: placement(s, cids, after), PIN_TIMEOUT_S,
             "peer %d back: states converged, it unpinned the re-allocated pins (each pin on "
             "exactly daemons %s), status remote there" % (victim, sorted(live_ix)))
        log("repin: ok")


CASES = {"replication": replication, "expiry": expiry, "repin": repin}


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    binary = os.path.abspath(argv[1])
    names = argv[2:] or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        print("unknown case(s) %s; cases: %s" % (", ".join(unknown), ", ".join(CASES)))
        return 2
    if not os.access(binary, os.X_OK):
        print("FAIL: %s is not an executable trellisd" % binary)
        return 1
    problem = jsipfs_problem()
    if problem:
        if os.environ.get("TRELLIS_ALLOW_SKIP") == "1":
            print("SKIP: %s" % problem)
            return 77
        print("FAIL: js-ipfs is needed: %s (TRELLIS_ALLOW_SKIP=1 turns this into a skip)"
              % problem)
        return 1
    # SIGTERM (a meson timeout) unwinds like an exception: every process stops.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    failed = []
    try:
        for name in names:
            t = time.monotonic()
            log("=== case %s" % name)
            try:
                CASES[name](binary)
                log("=== case %s passed in %.1f s" % (name, time.monotonic() - t))
            except Exception as e:  # noqa: BLE001 - reported, next case runs
                traceback.print_exc()
                log("=== case %s FAILED after %.1f s: %s: %s"
                    % (name, time.monotonic() - t, type(e).__name__, e))
                failed.append(name)
    finally:
        POOL.close()
    if failed:
        print("pinning tests FAILED: %s (passed: %s)"
              % (", ".join(failed), ", ".join(n for n in names if n not in failed) or "none"))
        return 1
    print("pinning tests passed: %s" % ", ".join(names))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
