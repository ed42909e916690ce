"""Where warehouse work runs: :class:`WarehouseRunner`, a bounded thread pool of its own
(apart from the threads the store's calls use) with a per-key limit on concurrent
warehouse requests. Imports ``errors`` and ``warehouse.labels``.

The API awaits one method, ``await runner.run(key_id, function, *args, lane=...)``
(analysis jobs, which outlive their request, use ``submit``: the same limits, a future). In the
``ROWS`` lane (preview, daily) a key with ``per_key`` requests already running or queued
gets :class:`~qualevents.errors.WarehouseBusy` (429 with ``Retry-After``), and so does any
request once ``max_pending`` are in flight, so a burst of slow previews from one key
(read-only keys included) can neither occupy every warehouse thread nor queue without
bound. Validation against the warehouse (creates, updates, dry runs) runs in the
``CHECKS`` lane, on threads of its own, so it never waits behind a preview; reads and lists
do not run here at all. The ``ROWS`` threads run at a lower CPU priority (``NICE``) than
the event loop and the ``CHECKS`` threads.

Each call runs labelled (``warehouse.labels``) with its key id and its function's name as
the operation (``preview``, ``daily``, ``create``...), so the statements it sends carry
both to the warehouse's query log.

A request abandoned by its deadline stops waiting at once; its work finishes in its thread
(a warehouse statement carries its own timeout) and its slot is released only then, so the
limits count what really runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from qualevents.errors import WarehouseBusy
from qualevents.warehouse.labels import labelled

T = TypeVar("T")
DEFAULT_THREADS = 8
DEFAULT_PER_KEY = 4
RETRY_AFTER_S = 1
# Threads parse and render SQL nested up to the guard's limit; give them room.
THREAD_STACK_BYTES = 16 * 2**20
# Rows threads run this much nicer than the process, so an embedded warehouse busy with a
# slow query yields the CPU to the event loop that answers reads and writes.
NICE = 10
ROWS = "rows"  # preview and daily: limited per key
CHECKS = "checks"  # validation against the warehouse: zero-row probes


def _lower_priority() -> None:
    """Run this thread (and the DuckDB threads it starts) at a lower CPU priority than the
    event loop's: on Linux a thread's nice value is its own."""
    with contextlib.suppress(OSError, AttributeError):
        thread = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, current + NICE))


def _labelled_call(operation: str, key_id: str | None, call: Callable[[], T]) -> T:
    with labelled(operation, key_id):
        return call()


class _Lane:
    """A thread pool and its count of requests in flight, per key and in all."""

    def __init__(self, name: str, threads: int, max_pending: int) -> None:
        self.name, self.threads, self.max_pending = name, threads, max_pending
        self.executor: ThreadPoolExecutor | None = None
        self.by_key: dict[str | None, int] = {}
        self.pending = 0

    def pool(self) -> ThreadPoolExecutor:
        if self.executor is None:
            previous = threading.stack_size()
            threading.stack_size(THREAD_STACK_BYTES)
            try:
                self.executor = ThreadPoolExecutor(
                    max_workers=self.threads,
                    thread_name_prefix=f"qualevents-warehouse-{self.name}",
                    # Only rows run long; a create's zero-row probe keeps normal priority.
                    initializer=_lower_priority if self.name == ROWS else None,
                )
                # Start every thread now, while the stack size applies.
                for future in [self.executor.submit(int) for _ in range(self.threads)]:
                    future.result()
            finally:
                threading.stack_size(previous)
        return self.executor


class WarehouseRunner:
    """Runs blocking warehouse calls in two lanes of ``threads`` threads each: ``ROWS``
    (preview, daily: at most ``per_key`` at once for one key) and ``CHECKS`` (validation
    against the warehouse: zero-row probes, not limited per key, so parallel creates from
    one key, e.g. Terraform's, are not refused), each with at most ``max_pending`` (default
    four per thread) in flight. A slow preview therefore never holds a thread a create's
    validation needs."""

    def __init__(
        self,
        threads: int = DEFAULT_THREADS,
        per_key: int = DEFAULT_PER_KEY,
        max_pending: int | None = None,
        *,
        rows_threads: int | None = None,
    ) -> None:
        self.threads = max(1, threads)
        self.per_key = max(1, per_key)
        self.max_pending = max_pending or self.threads * 4
        # An embedded warehouse (DuckDB) computes on this machine: more rows threads than
        # its own threads would only take CPU from the API (runtime.validator_for).
        rows = max(1, min(self.threads, rows_threads or self.threads))
        self._lanes = {
            ROWS: _Lane(ROWS, rows, self.max_pending),
            CHECKS: _Lane(CHECKS, self.threads, self.max_pending),
        }
        self._lock = threading.Lock()

    def in_flight(self, key_id: str | None = None, lane: str = ROWS) -> int:
        """Requests running or queued in ``lane`` (for ``key_id``, or in all)."""
        with self._lock:
            found = self._lanes[lane]
            return found.pending if key_id is None else found.by_key.get(key_id, 0)

    def _enter(self, lane: _Lane, key_id: str | None) -> None:
        with self._lock:
            running = lane.by_key.get(key_id, 0)
            if lane.name == ROWS and key_id is not None and running >= self.per_key:
                raise WarehouseBusy(
                    RETRY_AFTER_S,
                    f"This key already has {running} warehouse requests running (the limit is "
                    f"{self.per_key}, QUALEVENTS_WAREHOUSE_REQUESTS_PER_KEY); retry when one "
                    "finishes",
                )
            if lane.pending >= lane.max_pending:
                raise WarehouseBusy(
                    RETRY_AFTER_S,
                    f"The warehouse has {lane.pending} requests in flight (the limit is "
                    f"{lane.max_pending}); retry shortly",
                )
            lane.by_key[key_id] = running + 1
            lane.pending += 1

    def _leave(self, lane: _Lane, key_id: str | None, _future: Future[Any] | None = None) -> None:
        with self._lock:
            left = lane.by_key.get(key_id, 1) - 1
            if left > 0:
                lane.by_key[key_id] = left
            else:
                lane.by_key.pop(key_id, None)
            lane.pending -= 1

    async def run(
        self,
        key_id: str | None,
        function: Callable[..., T],
        *args: Any,
        lane: str = ROWS,
        **kwargs: Any,
    ) -> T:
        """``function(*args, **kwargs)`` on a warehouse thread of ``lane``; WarehouseBusy
        (429) when ``key_id`` or the lane is at its limit."""
        return await asyncio.wrap_future(self.submit(key_id, function, *args, lane=lane, **kwargs))

    def submit(
        self,
        key_id: str | None,
        function: Callable[..., T],
        *args: Any,
        lane: str = ROWS,
        **kwargs: Any,
    ) -> Future[T]:
        """``run`` without waiting (analysis jobs outlive the request that starts them):
        WarehouseBusy (429) at once when ``key_id`` or the lane is at its limit, else the
        future of ``function``, whose slot is released when it finishes."""
        chosen = self._lanes[lane]
        self._enter(chosen, key_id)
        try:
            with self._lock:
                executor = chosen.pool()
            operation = getattr(function, "__name__", "") or "query"
            future = executor.submit(
                _labelled_call, operation, key_id, functools.partial(function, *args, **kwargs)
            )
        except BaseException:
            self._leave(chosen, key_id)
            raise
        future.add_done_callback(functools.partial(self._leave, chosen, key_id))
        return future

    def close(self) -> None:
        with self._lock:
            executors = [lane.executor for lane in self._lanes.values()]
            for lane in self._lanes.values():
                lane.executor = None
        for executor in executors:
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)
