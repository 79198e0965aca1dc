#!/usr/bin/env python3
"""The Python peer of benches/process_pool.rs (P1-P5 of benchmarks.md).

Run by the Rust bench, one invocation per repetition:

    python3 benches/process_pool_peer.py WORKLOAD IMPL WORKERS [--warmup]

WORKLOAD is P1..P5; IMPL is `python-pool` (multiprocessing.Pool, fork
context) or, for P5 only, `python-executor`
(concurrent.futures.ProcessPoolExecutor, fork context). Each invocation
builds its own pool (untimed, except for P4 where building it is the
workload), times the workload with time.perf_counter and prints one JSON
object on a line:

    {"workload": "P1", "impl": "python-pool", "ns_per_task": 41234.5, ...}

with the figures and the values the Rust side checks (counts, sums,
mismatches). P5 instead streams one JSON line per task outcome as it
arrives ({"ev": "r", "i": 7, "v": 22} or {"ev": "e", "i": 99, "err": "..."}),
after {"ev": "start"} and before {"ev": "done"}: the Rust side times it,
checks every value, and kills this process's group when 5 s pass without a
line (multiprocessing.Pool never delivers a task whose worker died).

The task bodies are the same algorithms as the Rust side's (trial division
with the same loop, the same byte pattern). P3's checksum differs: the Rust
side sums the bytes (the cheapest full read there), here zlib.adler32
reads every byte at C speed (the standard library has no fast byte sum and
numpy may be missing); both compare with the checksum of a locally built
reference.
"""

import json
import multiprocessing as mp
import os
import resource
import sys
import time
import zlib

# P1: items mapped x -> 2x, one task each.
P1_ITEMS = 100_000
# P2: items, and the bound below which each counts primes.
P2_ITEMS = 64
P2_BOUND = 200_000
P2_PRIMES = 17_984
# P2: items of the sequential loop in this process, timed and scaled to
# P2_ITEMS (every item is the same count, so the loop is linear in items;
# the full 64 take ~28 s per repetition in CPython, too long to repeat).
P2_SEQ_ITEMS = 8
# P2 warm-up: items in the pool (a fresh interpreter per repetition means a
# warm-up only warms the OS caches; the full size would cost ~15 s).
P2_WARMUP_ITEMS = 4
# P3: tasks, bytes per result, and the period of the pattern.
P3_TASKS = 32
P3_LEN = 32 << 20
P3_PERIOD = 251
# P5: tasks; task i aborts its worker when i % 100 == 99.
P5_TASKS = 10_000

# P3: BASE[j] = j % 251 for j < P3_LEN + 251; result t is BASE[t : t + P3_LEN],
# that is byte j = (j + t) % 251. Built before the pool forks, so workers
# share it.
BASE = None


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def double(x):
    return 2 * x


def count_primes(n):
    """Primes below n by trial division (the Rust side's loop)."""
    count = 0
    for k in range(2, n):
        d = 2
        while d * d <= k:
            if k % d == 0:
                break
            d += 1
        else:
            count += 1
    return count


def pattern(t):
    return BASE[t : t + P3_LEN]


def p5_task(i):
    if i % 100 == 99:
        os.abort()
    return (i, 3 * i + 1)


def p1(ctx, workers, warmup):
    with ctx.Pool(workers) as pool:
        pool.map(double, range(workers), chunksize=1)  # every worker up
        t0 = time.perf_counter()
        out = pool.map(double, range(P1_ITEMS), chunksize=1)
        elapsed = time.perf_counter() - t0
    bad = sum(1 for i, v in enumerate(out) if v != 2 * i)
    return {
        "ns_per_task": elapsed * 1e9 / P1_ITEMS,
        "count": len(out),
        "sum": sum(out),
        "mismatches": bad,
    }


def p2(ctx, workers, warmup):
    items = P2_WARMUP_ITEMS if warmup else P2_ITEMS
    with ctx.Pool(workers) as pool:
        pool.map(double, range(workers), chunksize=1)
        t0 = time.perf_counter()
        out = pool.map(count_primes, [P2_BOUND] * items, chunksize=1)
        pool_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    seq = [count_primes(P2_BOUND) for _ in range(P2_SEQ_ITEMS)]
    seq_s = (time.perf_counter() - t0) * items / P2_SEQ_ITEMS
    counts = out + seq
    return {
        "wall_ms": pool_s * 1e3,
        "speedup": seq_s / pool_s,
        "seq_ms": seq_s * 1e3,
        "items": len(out),
        "mismatches": sum(1 for c in counts if c != P2_PRIMES),
    }


def p3(ctx, workers, warmup):
    global BASE
    whole = bytes(range(P3_PERIOD)) * (P3_LEN // P3_PERIOD + 2)
    BASE = whole[: P3_LEN + P3_PERIOD]
    view = memoryview(BASE)
    expected = [zlib.adler32(view[t : t + P3_LEN]) for t in range(P3_TASKS)]
    assert len(set(expected)) == P3_TASKS
    mismatches = 0
    total = 0
    with ctx.Pool(workers) as pool:
        pool.map(double, range(workers), chunksize=1)
        t0 = time.perf_counter()
        for t, data in enumerate(pool.imap(pattern, range(P3_TASKS), chunksize=1)):
            total += len(data)
            if len(data) != P3_LEN or zlib.adler32(data) != expected[t]:
                mismatches += 1
            del data
        elapsed = time.perf_counter() - t0
    return {
        "gib_per_s": total / (1 << 30) / elapsed,
        "bytes": total,
        "mismatches": mismatches,
    }


def p4(ctx, workers, warmup):
    t0 = time.perf_counter()
    pool = ctx.Pool(workers)
    value = pool.apply(double, (21,))
    pool.close()
    pool.join()
    elapsed = time.perf_counter() - t0
    return {"wall_ms": elapsed * 1e3, "value": value}


def p5_pool(ctx, workers):
    pool = ctx.Pool(workers)
    pool.map(double, range(workers), chunksize=1)
    emit({"ev": "start"})
    for i, v in pool.imap_unordered(p5_task, range(P5_TASKS), chunksize=1):
        sys.stdout.write('{"ev":"r","i":%d,"v":%d}\n' % (i, v))
        sys.stdout.flush()
    emit({"ev": "done"})
    pool.terminate()
    pool.join()


def p5_executor(ctx, workers):
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    ex = ProcessPoolExecutor(workers, mp_context=ctx)
    list(ex.map(double, range(workers)))
    emit({"ev": "start"})
    futures = {}
    for i in range(P5_TASKS):
        try:
            futures[ex.submit(p5_task, i)] = i
        except BrokenProcessPool as e:  # the pool broke while submitting
            sys.stdout.write('{"ev":"e","i":%d,"err":"%s"}\n' % (i, type(e).__name__))
    sys.stdout.flush()
    for f in as_completed(futures):
        i = futures[f]
        try:
            _, v = f.result()
            sys.stdout.write('{"ev":"r","i":%d,"v":%d}\n' % (i, v))
        except Exception as e:  # BrokenProcessPool once a worker died
            sys.stdout.write('{"ev":"e","i":%d,"err":"%s"}\n' % (i, type(e).__name__))
        sys.stdout.flush()
    emit({"ev": "done"})
    ex.shutdown(wait=True, cancel_futures=True)


def main():
    workload, impl, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    warmup = "--warmup" in sys.argv[4:]
    # No core dumps from the aborting P5 tasks (the Rust side sets it too).
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    ctx = mp.get_context("fork")
    if workload == "P5":
        if impl == "python-pool":
            p5_pool(ctx, workers)
        elif impl == "python-executor":
            p5_executor(ctx, workers)
        else:
            sys.exit("unknown impl %r" % impl)
        return
    if impl != "python-pool":
        sys.exit("unknown impl %r for %s" % (impl, workload))
    run = {"P1": p1, "P2": p2, "P3": p3, "P4": p4}[workload]
    result = run(ctx, workers, warmup)
    result.update({"workload": workload, "impl": impl})
    emit(result)


if __name__ == "__main__":
    main()
