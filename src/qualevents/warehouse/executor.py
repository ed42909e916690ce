"""Where warehouse work runs: :class:`WarehouseRunner`, a bounded thread pool of its own
(apart from the threads the store's calls use) with a per-key limit on concurrent
warehouse requests. Imports ``errors`` only.

The API awaits one method, ``await runner.run(key_id, function, *args)``. A key with
``per_key`` requests already running or queued gets :class:`~qualevents.errors.WarehouseBusy`
(429 with ``Retry-After``), and so does any request once ``max_pending`` are in flight, so a
burst of slow previews from one key (read-only keys included) can neither occupy every
warehouse thread nor queue without bound; reads, lists and creates never wait for them,
since they do not run here (a create validates here only when a warehouse is configured,
and then under the same per-key limit).

A request abandoned by its deadline stops waiting at once; its work finishes in its thread
(a warehouse statement carries its own timeout) and its slot is released only then, so the
limits count what really runs.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from qualevents.errors import WarehouseBusy

T = TypeVar("T")
DEFAULT_THREADS = 8
DEFAULT_PER_KEY = 4
RETRY_AFTER_S = 1
# Threads parse and render SQL nested up to the guard's limit; give them room.
THREAD_STACK_BYTES = 16 * 2**20


class WarehouseRunner:
    """Runs blocking warehouse calls on ``threads`` threads, at most ``per_key`` at once for
    one key and at most ``max_pending`` (default four per thread) in all."""

    def __init__(
        self,
        threads: int = DEFAULT_THREADS,
        per_key: int = DEFAULT_PER_KEY,
        max_pending: int | None = None,
    ) -> None:
        self.threads = max(1, threads)
        self.per_key = max(1, per_key)
        self.max_pending = max_pending or self.threads * 4
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._by_key: dict[str | None, int] = {}
        self._pending = 0

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                previous = threading.stack_size()
                threading.stack_size(THREAD_STACK_BYTES)
                try:
                    self._executor = ThreadPoolExecutor(
                        max_workers=self.threads, thread_name_prefix="qualevents-warehouse"
                    )
                    # Start every thread now, while the stack size applies.
                    for future in [self._executor.submit(int) for _ in range(self.threads)]:
                        future.result()
                finally:
                    threading.stack_size(previous)
            return self._executor

    def in_flight(self, key_id: str | None = None) -> int:
        """Requests running or queued (for ``key_id``, or in all)."""
        with self._lock:
            return self._pending if key_id is None else self._by_key.get(key_id, 0)

    def _enter(self, key_id: str | None) -> None:
        with self._lock:
            running = self._by_key.get(key_id, 0)
            if key_id is not None and running >= self.per_key:
                raise WarehouseBusy(
                    RETRY_AFTER_S,
                    f"This key already has {running} warehouse requests running (the limit is "
                    f"{self.per_key}, QUALEVENTS_WAREHOUSE_REQUESTS_PER_KEY); retry when one "
                    "finishes",
                )
            if self._pending >= self.max_pending:
                raise WarehouseBusy(
                    RETRY_AFTER_S,
                    f"The warehouse has {self._pending} requests in flight (the limit is "
                    f"{self.max_pending}); retry shortly",
                )
            self._by_key[key_id] = running + 1
            self._pending += 1

    def _leave(self, key_id: str | None, _future: Future[Any] | None = None) -> None:
        with self._lock:
            left = self._by_key.get(key_id, 1) - 1
            if left > 0:
                self._by_key[key_id] = left
            else:
                self._by_key.pop(key_id, None)
            self._pending -= 1

    async def run(
        self, key_id: str | None, function: Callable[..., T], *args: Any, **kwargs: Any
    ) -> T:
        """``function(*args, **kwargs)`` on a warehouse thread; WarehouseBusy (429) when
        ``key_id`` or the runner is at its limit."""
        self._enter(key_id)
        try:
            future = self._pool().submit(functools.partial(function, *args, **kwargs))
        except BaseException:
            self._leave(key_id)
            raise
        future.add_done_callback(functools.partial(self._leave, key_id))
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
