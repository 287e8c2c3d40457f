"""When each slice of an agent's kept states is written: a checkpoint in slices.

An agent that keeps its patients' states in memory between checkpoints
(:meth:`streams.tables.PatientStateTable.keep` and ``checkpoint``, its records held
unacknowledged until then by :class:`streams.delivery.HeldAcks`) writes them in slices of
patients, by a hash of their id, one slice every ``interval_s / slices`` seconds, so that each
state is written every ``interval_s`` and no write stalls the agent with every patient's state at
once. The ECG agent (:mod:`streams.ecg.agents`) and the vitals agent (:mod:`streams.vitals.agents`)
share these functions.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Collection
from typing import Any

from streams.metrics import metrics


def slice_count(interval_s: float, slice_s: float) -> int:
    """How many slices make one round of ``interval_s`` with one slice every ``slice_s``.

    >>> slice_count(5.0, 0.5), slice_count(0.0, 0.5)
    (10, 1)
    """
    return max(1, round(interval_s / slice_s))


def slice_turns(now: float, interval_s: float, slices: int) -> list[float]:
    """When each slice was last due, for a round starting at ``now``: slice ``i`` comes due
    ``i + 1`` slice intervals from ``now``, then every ``interval_s``.

    >>> slice_turns(10.0, 4.0, 2)
    [8.0, 10.0]
    """
    return [now - interval_s + (i + 1) * interval_s / slices for i in range(slices)]


def due_slices(turns: list[float], now: float, interval_s: float) -> set[int]:
    """The slices whose turn to be written has come at ``now`` (all of them with no interval),
    each moved on to its latest turn in ``turns`` (updated in place): a slice late because a
    batch was long keeps its place in the round, instead of being written together with the
    next one from then on.

    >>> turns = slice_turns(0.0, 4.0, 2)
    >>> due_slices(turns, 2.0, 4.0), due_slices(turns, 2.5, 4.0), due_slices(turns, 4.1, 4.0)
    ({0}, set(), {1})
    """
    if interval_s <= 0:
        return set(range(len(turns)))
    due = {i for i, t in enumerate(turns) if now - t >= interval_s}
    for i in due:
        turns[i] = now - (now - turns[i]) % interval_s
    return due


def state_slice(key: str, slices: int) -> int:
    """The slice of a patient's state (a hash stable across processes)."""
    return zlib.crc32(key.encode("utf-8", "replace")) % slices


def slice_picker(slices: Collection[int] | None, count: int) -> Callable[[str], bool] | None:
    """Which keys belong to ``slices`` (of ``count``), for ``PatientStateTable.checkpoint`` and
    ``HeldAcks.release`` (None: every key)."""
    if slices is None:
        return None
    return lambda key: state_slice(key, count) in slices


async def write_kept(table: Any, acks: Any, picks: Callable[[str], bool] | None, name: str) -> int:
    """Write ``table``'s states kept since their last checkpoint whose key ``picks`` picks (None:
    all), then acknowledge the records held for them in ``acks`` (a ``HeldAcks``); counts
    ``<name>_checkpoints`` and ``<name>_checkpoint_states``. Returns how many states it wrote.
    If the write raises, nothing is acknowledged: the states stay kept, the records held."""
    n = await table.checkpoint(picks)
    acks.release(picks)
    if n:
        metrics.incr(f"{name}_checkpoints")
        metrics.incr(f"{name}_checkpoint_states", n)
    return n
