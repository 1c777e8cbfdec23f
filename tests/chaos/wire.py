#!/usr/bin/env python3
"""A userspace delay wire (this kernel has no netem): an Ethernet link made
of two TAP devices and this process, which copies frames between them after
a delay with jitter, optionally dropping some.

  ip netns exec BRIDGE_NS wire.py PEER_NS BRIDGE PARAMS

Run inside the bridge's namespace. Creates TAP `wa` (moved into PEER_NS and
renamed eth0) and TAP `wb` (enslaved to BRIDGE there), prints "wire up" once
both exist, then relays until killed. PARAMS is a file holding
"DELAY_MS JITTER_MS LOSS_PCT", re-read whenever it changes: "0 0 0" is a
plain link, "150 50 0" a slow one. Jitter reorders frames, as a real slow
path does. Python stdlib only; good for a few thousand frames a second."""

import fcntl
import heapq
import os
import random
import select
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454ca
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000


def tap(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    os.set_blocking(fd, False)
    return fd


def ip(*args):
    subprocess.run(["ip"] + list(args), check=True)


class Params:
    def __init__(self, path):
        self.path = path
        self.mtime = None
        self.delay = self.jitter = self.loss = 0.0

    def refresh(self):
        try:
            mtime = os.stat(self.path).st_mtime_ns
            if mtime == self.mtime:
                return
            with open(self.path) as f:
                d, j, l = (float(x) for x in f.read().split())
            self.mtime = mtime
            self.delay, self.jitter, self.loss = d / 1000, j / 1000, l / 100
        except (OSError, ValueError):
            pass  # half-written or missing: keep the current values


def main(argv):
    if len(argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    peer_ns, bridge, params = argv[1], argv[2], Params(argv[3])
    a, b = tap("wa"), tap("wb")
    ip("link", "set", "wa", "netns", peer_ns)
    ip("-n", peer_ns, "link", "set", "wa", "name", "eth0")
    ip("link", "set", "wb", "master", bridge, "up")
    print("wire up", flush=True)
    other = {a: b, b: a}
    queue = []
    seq = 0
    rng = random.Random()
    next_check = 0.0
    while True:
        now = time.monotonic()
        if now >= next_check:
            params.refresh()
            next_check = now + 0.1
        timeout = 0.1 if not queue else max(0.0, min(0.1, queue[0][0] - now))
        ready, _, _ = select.select([a, b], [], [], timeout)
        for fd in ready:
            while True:
                try:
                    frame = os.read(fd, 65536)
                except BlockingIOError:
                    break
                except OSError:
                    break  # the peer's end is down (its namespace going away)
                if params.loss and rng.random() < params.loss:
                    continue
                delay = max(0.0, params.delay + rng.uniform(-params.jitter, params.jitter))
                heapq.heappush(queue, (time.monotonic() + delay, seq, other[fd], frame))
                seq += 1
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, fd, frame = heapq.heappop(queue)
            try:
                os.write(fd, frame)
            except OSError:
                pass  # the device is down: the frame is lost, as on a wire


if __name__ == "__main__":
    sys.exit(main(sys.argv))
