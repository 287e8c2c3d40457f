"""``streams.memory.release_freed_memory``: after a burst of allocations is freed, the pages the
allocator kept are returned (probed in a fresh interpreter, so that this process's own heap does
not blur the figures)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

# 150 MB in 1 KB blocks (malloc, not Python's small-object allocator, and under the mmap
# threshold, so they come from the heap), every 200th kept: the heap cannot shrink from its top
# and the freed pages between the survivors stay resident until trimmed.
PROBE = """
import json
from streams.memory import release_freed_memory, rss_mb
start = rss_mb()
blocks = [bytearray(1024) for _ in range(150_000)]
peak = rss_mb()
kept = blocks[::200]
del blocks
before, after = release_freed_memory()
print(json.dumps({"start": start, "peak": peak, "before": before, "after": after, "kept": len(kept)}))
"""


def test_freed_heap_pages_go_back_to_the_system(tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "WARDWATCH_RUN_DIR": str(tmp_path),
    }
    r = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    grown = got["peak"] - got["start"]
    assert grown > 100  # the burst was resident
    assert got["before"] - got["start"] > 0.5 * grown  # freed, yet still held by the allocator
    assert got["after"] - got["start"] < 0.25 * grown  # trimmed: most of it back to the system


def test_traced_growth_names_the_line_that_kept_objects():
    import tracemalloc

    from streams.memory import traced_growth

    tracemalloc.start()
    try:
        first, fields = traced_growth(None)
        assert "grew" not in fields and fields["traced_mb"] >= 0
        kept = [bytearray(2048) for _ in range(2000)]  # ~4 MB kept on this line
        _, fields = traced_growth(first)
    finally:
        tracemalloc.stop()
    assert len(kept) == 2000
    assert fields["grew"][0].startswith("test_memory.py:")
    assert int(fields["grew"][0].split("+")[1].split("KB")[0]) >= 4000


# Six threads allocate at once (1 KB blocks: malloc, not Python's small-object allocator); glibc
# gives each thread an arena of its own up to its limit. malloc_stats() writes one "Arena N:"
# block per arena to stderr.
ARENAS_PROBE = """
import ctypes, threading
import streams.memory
start = threading.Barrier(6)
def work():
    start.wait()
    kept = [bytearray(1024) for _ in range(2000)]
threads = [threading.Thread(target=work) for _ in range(6)]
[t.start() for t in threads]
[t.join() for t in threads]
ctypes.CDLL(None).malloc_stats()
"""


def _arenas(tmp_path, limit: str) -> int:
    env = {
        **{k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"},
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "WARDWATCH_RUN_DIR": str(tmp_path),
        "WARDWATCH_MEMORY_ARENAS": limit,
    }
    cmd = [sys.executable, "-c", ARENAS_PROBE]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    return sum(line.startswith("Arena ") for line in r.stderr.splitlines())


def test_a_worker_holds_malloc_to_its_arena_limit(tmp_path):
    """The ECG worker's RSS crept up with every executor thread's arena (README, "Stop 42"):
    the worker's limit holds six allocating threads to two arenas; glibc's default gives them more."""
    assert _arenas(tmp_path, "2") == 2
    assert _arenas(tmp_path, "0") > 2


FREEZE_PROBE = """
import asyncio, gc, json, logging
import streams.memory as m
logging.basicConfig(level=logging.INFO)
m.FREEZE_AFTER_S = (0.0, 0.3)
counts = []
async def main():
    task = asyncio.ensure_future(m.freeze_startup_objects())
    await asyncio.sleep(0.15)
    counts.append(gc.get_freeze_count())
    made = [[] for _ in range(50_000)]  # what the first batches make and keep
    await task
    counts.append(gc.get_freeze_count())
    return made
asyncio.run(main())
print(json.dumps(counts))
"""


def test_startup_objects_are_frozen_when_the_worker_is_up_and_again_later(tmp_path):
    """The first freeze takes start-up's objects out of the full collections right away; the
    second also what the worker kept since (here 50,000 lists)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "WARDWATCH_RUN_DIR": str(tmp_path),
    }
    r = subprocess.run(
        [sys.executable, "-c", FREEZE_PROBE], capture_output=True, text=True, env=env, timeout=120
    )
    assert r.returncode == 0, r.stderr[-3000:]
    first, second = json.loads(r.stdout.strip().splitlines()[-1])
    assert first > 20_000, first  # modules, Faust's app: all of start-up
    assert second - first > 45_000, (first, second)  # (a few frozen ones freed meanwhile)
    assert r.stderr.count("startup objects frozen") == 2, r.stderr[-2000:]
