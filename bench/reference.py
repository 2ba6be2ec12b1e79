#!/usr/bin/python3
"""The reference side of bench/run.ts: libvirt's own C client, through Debian's python3-libvirt
(a thin SWIG-like layer that releases the GIL around every C call).

    reference.py latency    URI NETWORK PAIRS WARMUP
    reference.py concurrent URI NETWORK TOTAL_PAIRS THREADS WARMUP
    reference.py keepalive  URI - INTERVAL COUNT

Prints one JSON object. Only the timed loop is measured: interpreter start-up, connecting and
warm-up are outside it, as on the TypeScript side.
"""
import json
import resource
import sys
import threading
import time

import libvirt


def pair(conn, name):
    # What the TypeScript side does: networkLookupByName + networkGetXmlDesc, two round trips.
    conn.networkLookupByName(name).XMLDesc(0)


def latency(conn, name, pairs, warmup):
    # Warm-up: the first calls pay for lazy work on both ends (daemon worker threads waking,
    # the network driver's caches, Python's attribute lookups); they are not steady state.
    for _ in range(warmup):
        pair(conn, name)
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    for _ in range(pairs):
        pair(conn, name)
    elapsed = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    # Client CPU (user + system, all threads) is insensitive to the host's load, unlike the wall
    # clock; it includes CPython's own share, so it overstates the C library's cost a little.
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return {"pairs": pairs, "seconds": elapsed, "usPerPair": elapsed / pairs * 1e6,
            "cpuUsPerPair": cpu / pairs * 1e6, "callsPerSec": 2 * pairs / elapsed}


def concurrent(conn, name, total, threads, warmup):
    # libvirt's C client is thread-safe: several threads share one connection and their calls
    # are multiplexed by serial, as ours are. This shows what the C client gets from the same
    # concurrency (context only; the target compares ours with the C client's sequential rate).
    for _ in range(warmup):
        pair(conn, name)
    lock = threading.Lock()
    left = [total]

    def worker():
        while True:
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
            pair(conn, name)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    t0 = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - t0
    return {"pairs": total, "threads": threads, "seconds": elapsed, "callsPerSec": 2 * total / elapsed}


def keepalive(uri, interval, count):
    # Keepalive needs an event loop; the close callback marks the client's verdict. The bench
    # freezes the proxy between "ready" and "frozen", so the clock starts when nothing answers.
    libvirt.virEventRegisterDefaultImpl()
    conn = libvirt.open(uri)
    conn.setKeepAlive(interval, count)
    closed = []
    conn.registerCloseCallback(lambda _c, _reason, _opaque: closed.append(time.perf_counter()), None)
    print("ready", flush=True)
    sys.stdin.readline()
    t0 = time.perf_counter()
    while not closed:
        libvirt.virEventRunDefaultImpl()
    print(json.dumps({"seconds": closed[0] - t0, "interval": interval, "count": count}))


def main(argv):
    mode, uri, name = argv[1], argv[2], argv[3]
    nums = [int(a) for a in argv[4:]]
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)  # errors raise; don't also print them
    if mode == "keepalive":
        return keepalive(uri, *nums)
    conn = libvirt.open(uri)
    try:
        if mode == "latency":
            out = latency(conn, name, *nums)
        elif mode == "concurrent":
            out = concurrent(conn, name, *nums)
        else:
            raise SystemExit(f"unknown mode {mode!r}")
        out["libvirt"] = libvirt.getVersion()
        print(json.dumps(out))
    finally:
        conn.close()


if __name__ == "__main__":
    main(sys.argv)
