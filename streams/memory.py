"""Every worker gives the memory its allocator has freed back to the system once a minute.

A backlog makes bigger batches, and glibc's ``malloc`` keeps the pages those batches freed (the
heap's top and every thread's arena stay at their high-water mark), so a worker's RSS rose in
steps with each backlog spell and never fell (README, "Memory and the 30-minute soak").
``malloc_trim(0)`` returns free pages of every arena to the kernel (glibc's ``malloc_trim(3)``;
since glibc 2.8 it also releases free pages inside a heap, not only at its top). What is left
after a trim is memory the worker still holds, so a soak's RSS then measures what the process
keeps rather than the allocator's high-water mark.

The call runs in a thread of the default executor (ctypes releases the GIL for it), never on the
event loop. Where there is no glibc (musl, macOS) it does nothing and says so once.

A worker also holds glibc to a few malloc arenas (``memory_arenas``, default 2; glibc's own
default is 8 per core). Each thread that allocates gets an arena of its own up to that limit, and
the ECG step, the strip renderer and the trim run in whichever executor thread is free, so each
of those arenas in turn rose to a batch's high-water mark, and what a trim cannot return (pages
still partly in use) added up: an ECG worker's RSS rose 19-41 MB/h at a flat ``traced_mb``.
Two ECG workers side by side on the same chunks: 19.1 MB/h with glibc's default, 2.2 MB/h with
two arenas, at the same CPU (README, "Stop 42"). ``MALLOC_ARENA_MAX`` in the environment, if
set, is left to rule.

To see where a worker's memory goes, start it with ``PYTHONTRACEMALLOC=1`` (slower): each line
then also carries the memory Python's objects hold (``traced_mb``) and the allocation sites that
grew most since the previous line. RSS rising while ``traced_mb`` stays flat is the allocators'
fragmentation; ``traced_mb`` rising with it is objects kept, and the sites say which.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
import os
import tracemalloc
from collections.abc import Callable
from typing import Any

from streams.app import app
from wardwatch.logs import log_event
from wardwatch.settings import get_settings

log = logging.getLogger("wardwatch.memory")
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def rss_mb() -> float:
    """This process's resident set size (MB), from ``/proc/self/statm``; 0.0 where there is none."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * _PAGE_KB / 1024.0
    except OSError:
        return 0.0


def _glibc(name: str, argtypes: list[Any], restype: Any) -> Callable[..., int] | None:
    """The C library's function ``name`` with its signature set; None where there is none
    (no glibc: musl, macOS)."""
    lib = ctypes.util.find_library("c")
    try:
        fn = getattr(ctypes.CDLL(lib), name) if lib else None
    except (OSError, AttributeError):
        return None
    if fn is not None:
        fn.argtypes, fn.restype = argtypes, restype
    return fn


_TRIM = _glibc("malloc_trim", [ctypes.c_size_t], ctypes.c_int)
_M_ARENA_MAX = -8  #: mallopt's parameter number for the arena limit (glibc's malloc.h)


def limit_arenas(n: int) -> bool:
    """Hold glibc's malloc to ``n`` arenas (``mallopt(M_ARENA_MAX, n)``; 0 leaves its default);
    whether it took. Threads that have an arena keep it: call this before the worker starts
    its threads."""
    if n <= 0 or "MALLOC_ARENA_MAX" in os.environ:
        return False
    mallopt = _glibc("mallopt", [ctypes.c_int, ctypes.c_int], ctypes.c_int)
    return mallopt is not None and bool(mallopt(_M_ARENA_MAX, n))


_ARENAS_LIMITED = limit_arenas(get_settings().memory_arenas)


def release_freed_memory() -> tuple[float, float]:
    """Trim the allocator's free pages; RSS (MB) before and after (equal where there is no glibc)."""
    before = rss_mb()
    if _TRIM is not None:
        _TRIM(0)
    return before, rss_mb()


if _TRIM is None:
    log.warning("malloc_trim is not available: freed memory stays with the allocator")


def traced_growth(
    previous: tracemalloc.Snapshot | None, top: int = 5
) -> tuple[tracemalloc.Snapshot, dict[str, Any]]:
    """Where Python's objects grew since ``previous`` (a snapshot from the last call): a new
    snapshot, and ``{"traced_mb", "grew": ["file:line +KB (+count)", ...]}`` of the ``top`` sites."""
    snap = tracemalloc.take_snapshot()
    fields: dict[str, Any] = {"traced_mb": round(tracemalloc.get_traced_memory()[0] / 2**20, 1)}
    if previous is not None:
        stats = [st for st in snap.compare_to(previous, "lineno") if st.size_diff > 0][:top]
        fields["grew"] = [
            f"{st.traceback[0].filename.rsplit('/', 2)[-1]}:{st.traceback[0].lineno}"
            f" +{st.size_diff // 1024}KB (+{st.count_diff})"
            for st in stats
        ]
    return snap, fields


_last_snapshot: list[tracemalloc.Snapshot] = []


#: seconds after the worker starts at which its objects so far are set aside from the cyclic
#: garbage collector (:func:`gc.freeze`): once when it is up (its agents started, the models
#: loaded: ~1 s), so that the first minute's full collections no longer walk the ~200 k objects
#: of start-up (0.11-0.12 s each, in a load test at 2,000 beds, against 0.01-0.02 s after the
#: freeze); and once more when the first batches have made what stays (tables, clients' buffers)
FREEZE_AFTER_S = (3.0, 30.0)


def tune_gc(gen0: int) -> None:
    """The cyclic collector's first threshold (``gen0`` allocations between young collections;
    0 keeps Python's 700). A worker makes and drops many containers a second (records, states,
    outputs); every 10th young collection also collects the middle generation and, in time, a
    full one walks every object the worker holds (~160 k after start-up: ~50 ms each)."""
    if gen0 > 0:
        _, g1, g2 = gc.get_threshold()
        gc.set_threshold(gen0, g1, g2)


tune_gc(get_settings().gc_gen0)


@app.task
async def freeze_startup_objects() -> None:
    """Once the worker is up: collect, then move every object so far (modules, the models,
    Faust's machinery) to the permanent generation, which the collector no longer walks. What
    the worker makes afterwards is collected as before. Not with ``gc_gen0`` 0 (Python's
    collector as it comes)."""
    if get_settings().gc_gen0 <= 0:
        return
    waited = 0.0
    for at in FREEZE_AFTER_S:
        await asyncio.sleep(at - waited)
        waited = at
        gc.collect()
        gc.freeze()
        log_event(log, "startup objects frozen for the garbage collector", frozen=gc.get_freeze_count())


@app.timer(interval=get_settings().memory_trim_s)
async def trim_memory() -> None:
    """Every ``memory_trim_s``: :func:`release_freed_memory`, and a log line with RSS before and
    after (and, when tracing, :func:`traced_growth`)."""
    before, after = await asyncio.get_running_loop().run_in_executor(None, release_freed_memory)
    fields: dict[str, Any] = {"rss_mb": round(after, 1), "trimmed_mb": round(before - after, 1)}
    if _ARENAS_LIMITED:
        fields["arenas"] = get_settings().memory_arenas
    if tracemalloc.is_tracing():
        snap, traced = traced_growth(_last_snapshot[-1] if _last_snapshot else None)
        _last_snapshot[:] = [snap]
        fields.update(traced)
    log_event(log, "memory", **fields)
