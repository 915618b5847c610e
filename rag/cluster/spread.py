"""Batch work over a pool of Ray actors, results in input order: each actor builds its worker once (a
Pipeline with the index and models loaded), then handles the items Ray Data hands it a batch at a time.

Items and results travel pickled, so any Python value does (Arrow would otherwise guess a column type per
block). Ray Data retries a batch whose actor died and restarts the actor; ``preserve_order`` brings the
results back in input order, and every one's place is checked.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")
BATCH = 4  # items per call: small, so that a slow question holds up few others

WorkerFactory = Callable[[], Callable[[Any], Any]]


class SpreadActor:
    """One actor of the pool: ``make()`` once, then the worker it returns on every item."""

    def __init__(self, make: WorkerFactory) -> None:
        self.worker = make()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = np.empty(len(batch["seq"]), dtype=object)
        out[:] = [pickle.dumps(self.worker(pickle.loads(item))) for item in batch["item"]]
        return {"seq": batch["seq"], "out": out}


def spread(items: Sequence[T], make: WorkerFactory, actors: int, cpus: float = 1.0) -> Iterator[Any]:
    """``make()(item)`` for every item, on ``actors`` actors of ``cpus`` CPUs each, yielded in input order as
    they arrive. ``make`` must pickle (a module-level class or a functools.partial of one)."""
    if not items:
        return
    import ray.data

    rows = [{"seq": i, "item": pickle.dumps(item)} for i, item in enumerate(items)]
    dataset = ray.data.from_items(rows, override_num_blocks=max(1, min(len(rows) // BATCH, 4096))).map_batches(
        SpreadActor,
        fn_constructor_kwargs={"make": make},
        batch_size=BATCH,
        batch_format="numpy",
        num_cpus=cpus,
        compute=ray.data.ActorPoolStrategy(min_size=1, max_size=actors, initial_size=actors),
    )
    expected = 0
    for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
        for seq, out in zip(batch["seq"], batch["out"]):
            if int(seq) != expected:
                raise RuntimeError(f"results arrived out of order: item {seq} where {expected} was due")
            expected += 1
            yield pickle.loads(out)
    if expected != len(items):
        raise RuntimeError(f"the cluster returned {expected} results for {len(items)} items")
