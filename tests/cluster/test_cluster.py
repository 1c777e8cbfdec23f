#!/usr/bin/env python3
"""Multi-process replication tests on loopback (real trellisd processes).

  test_cluster.py TRELLISD [TEST...]

Tests: converge (5 peers, 10,000 writes spread across them), kill (a peer
killed with SIGKILL in the middle of a sync, restarted, converges), join (a
fresh peer syncs a DAG of ≥100,000 blocks by sub-DAG streaming), fanout (6
fresh peers join one peer at once: it serves at most 3 full syncs, and they
serve each other the rest). Each prints
what it measured; any failure exits non-zero with the peers' log tails."""

import sys
import threading
import time

import harness


def converge(binary):
    with harness.Cluster(5, binary) as c:
        c.start()
        c.wait_mesh(30)
        errors = []

        def write(p):
            try:
                p.ctl("load 2000 w%d 1" % p.index)  # 2,000 commits of one write each
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        t0 = time.monotonic()
        threads = [threading.Thread(target=write, args=(p,)) for p in c.peers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        wrote = time.monotonic() - t0
        took = c.wait_converged(120)
        keys = c.peers[0].info()["keys"]
        assert keys == 10000, "expected 10,000 keys, found %d" % keys
        for p in c.peers:  # spot-check values written elsewhere
            got = p.ctl("get w%d-1999" % ((p.index + 1) % 5))
            assert got["found"] and got["value"] == "v-1999", got
        print("converge: 10,000 writes on 5 peers in %.1f s; all converged %.1f s later "
              "(blocks: %d)" % (wrote, took, c.peers[0].info()["blocks"]))


def kill(binary):
    with harness.Cluster(3, binary) as c:
        c.peers[0].start()
        c.peers[0].ctl("load 30000 k 1")  # 30,000 blocks to sync
        c.peers[1].start()
        c.wait_converged(60, c.peers[:2])
        c.peers[2].start()
        # Kill it once it has some of the DAG but not all of it.
        c.wait(lambda: (c.peers[2].info()["blocks"] > 1000, c.peers[2].info()["blocks"]), 60,
               "the joining peer to store some blocks")
        had = c.peers[2].info()["blocks"]
        c.peers[2].kill()
        c.peers[0].ctl("load 100 after 1")
        c.peers[2].start()
        took = c.wait_converged(120)
        print("kill: joining peer killed (SIGKILL) with %d of 30,100 blocks; restarted and "
              "converged in %.1f s" % (had, took))


def join(binary):
    with harness.Cluster(2, binary) as c:
        c.peers[0].start()
        t0 = time.monotonic()
        c.peers[0].ctl("load 1000000 j 10", timeout=1200)  # 100,000 blocks of 10 keys
        made = time.monotonic() - t0
        blocks = c.peers[0].info()["blocks"]
        assert blocks >= 100000, blocks
        c.peers[1].start()
        took = c.wait_converged(600)
        info = c.peers[1].info()
        assert info["keys"] == 1000000, info["keys"]
        assert info["streams"] >= 1 and info["stream_blocks"] >= blocks, info
        print("join: fresh peer synced %d blocks (1,000,000 keys) in %.1f s = %.0f blocks/s "
              "(%d streams, %d blocks by blocks.get); source built in %.1f s"
              % (blocks, took, blocks / took, info["streams"], info["get_blocks"], made))


def fanout(binary):
    with harness.Cluster(7, binary) as c:
        c.peers[0].start()
        c.peers[0].ctl("load 3000 f 10")  # 300 blocks
        for p in c.peers[1:]:
            p.start()
        took = c.wait_converged(60)
        source = c.peers[0].info()
        others = [p.info() for p in c.peers[1:]]
        assert all(i["keys"] == 3000 for i in others), [i["keys"] for i in others]
        assert source["served_streams"] <= 3, source
        assert source["full_syncs_refused"] >= 1, source
        relayed = sum(i["served_streams"] for i in others)
        assert relayed >= 3, [i["served_streams"] for i in others]
        print("fanout: 6 fresh peers joined in %.1f s; the source served %d full syncs and "
              "refused %d, the joiners served %d to each other"
              % (took, source["served_streams"], source["full_syncs_refused"], relayed))


TESTS = {"converge": converge, "kill": kill, "join": join, "fanout": fanout}

if __name__ == "__main__":
    binary = sys.argv[1]
    names = sys.argv[2:] or list(TESTS)
    for name in names:
        TESTS[name](binary)
    print("cluster tests passed: %s" % ", ".join(names))
