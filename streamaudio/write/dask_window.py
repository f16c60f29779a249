"""A Dask distributed cluster for a command (a scheduler's address, or a local one of N processes) and
tasks run on it in order, a bounded window in flight, so that what is not submitted yet is not made."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from streamaudio.errors import StreamAudioError
from streamaudio.write import interrupt


class DaskError(StreamAudioError):
    """Dask is missing, its scheduler cannot be reached, or a task keeps killing its workers."""


@contextmanager
def dask_client(workers: int, scheduler: str | None) -> Iterator[Any]:
    """A client of ``scheduler``, or of a local cluster of ``workers`` single-threaded processes."""
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise DaskError("the Dask executor needs: pip install 'streamaudio[dask]'") from None
    cluster = None
    try:
        if scheduler:
            client = Client(scheduler, timeout="5s")
        else:
            # forked, the worker processes keep this process's deferring Ctrl-C handler: a Ctrl-C only sets
            # their flag (no traceback from dask's spawned interpreters); this process ends them
            method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
            with dask.config.set({"distributed.worker.multiprocessing-method": method}):
                cluster = LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
                )
            client = Client(cluster)
    except (OSError, TimeoutError) as exc:
        raise DaskError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def in_order(
    client: Any,
    submit: Callable[[Any], Any],
    items: Iterable[Any],
    window: int,
    name: Callable[[Any], str] = str,
) -> Iterator[Any]:
    """Each item's result, in the items' order: ``submit(item)`` gives a future; at most ``window`` are in
    flight, items are taken only as there is room, and a Ctrl-C is seen while waiting."""
    from distributed import KilledWorker, wait

    window = max(window, 4 * len(client.scheduler_info().get("workers", {})))
    items = iter(items)
    order: dict = {}  # future in flight -> (its submission number, its item's name)
    ready: dict[int, Any] = {}  # results that came before an earlier one
    submitted = emitted = 0
    exhausted = False
    while True:
        while not exhausted and len(order) + len(ready) < window:
            item = next(items, None)
            if item is None:
                exhausted = True
                break
            order[submit(item)] = (submitted, name(item))
            submitted += 1
        if not order and emitted == submitted:
            return
        try:  # waiting in steps, so a Ctrl-C is seen
            done, _ = wait(list(order), timeout=interrupt.WAIT, return_when="FIRST_COMPLETED")
        except TimeoutError:
            done = set()
        interrupt.check()
        for future in done:
            number, label = order.pop(future)
            try:
                ready[number] = future.result()
            except KilledWorker:
                raise DaskError(
                    f"{label} killed Dask workers each time it was tried; what finished is kept: run the "
                    "same command again to resume"
                ) from None
        while emitted in ready:
            yield ready.pop(emitted)
            emitted += 1
