"""The warehouse runner: per-key and overall limits (429 with Retry-After beyond them),
slots held until the work really ends (also when the waiting request gave up), other keys
unaffected. Work is held with events, not sleeps."""

from __future__ import annotations

import asyncio
import threading

import pytest

from qualevents.errors import WarehouseBusy
from qualevents.warehouse.executor import WarehouseRunner


def test_a_key_beyond_its_limit_gets_a_429_and_others_do_not() -> None:
    runner = WarehouseRunner(threads=4, per_key=2)
    gate = threading.Event()

    async def scenario() -> None:
        held = [asyncio.ensure_future(runner.run("k1", gate.wait)) for _ in range(2)]
        await asyncio.sleep(0)  # a yield, not a wait: the two take their slots
        with pytest.raises(WarehouseBusy) as busy:
            await runner.run("k1", int)
        assert busy.value.status == 429 and busy.value.headers == {"Retry-After": "1"}
        assert "limit is 2" in busy.value.errors[0].message
        assert await runner.run("k2", lambda: "other key") == "other key"
        gate.set()
        assert await asyncio.gather(*held) == [True, True]
        assert await runner.run("k1", lambda: "again") == "again"

    try:
        asyncio.run(scenario())
    finally:
        gate.set()
        runner.close()


def test_all_keys_together_are_bounded() -> None:
    runner = WarehouseRunner(threads=1, per_key=10, max_pending=3)
    gate = threading.Event()

    async def scenario() -> None:
        held = [asyncio.ensure_future(runner.run(f"k{i}", gate.wait)) for i in range(3)]
        await asyncio.sleep(0)  # a yield, not a wait: the three take their slots
        with pytest.raises(WarehouseBusy, match="3 requests in flight"):
            await runner.run("k9", int)
        gate.set()
        await asyncio.gather(*held)

    try:
        asyncio.run(scenario())
    finally:
        gate.set()
        runner.close()


def test_an_abandoned_request_keeps_its_slot_until_the_work_ends() -> None:
    runner = WarehouseRunner(threads=2, per_key=1)
    started, gate, done = threading.Event(), threading.Event(), threading.Event()

    def work() -> None:
        started.set()
        gate.wait()
        done.set()

    async def scenario() -> None:
        waiting = asyncio.ensure_future(runner.run("k", work))
        await asyncio.to_thread(started.wait)
        waiting.cancel()  # the request's deadline gave up on it
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert runner.in_flight("k") == 1  # the statement still runs
        with pytest.raises(WarehouseBusy):
            await runner.run("k", int)
        gate.set()
        await asyncio.to_thread(done.wait)

    try:
        asyncio.run(scenario())
        runner._lanes["rows"].pool().submit(int).result()  # the done callback has run
        assert runner.in_flight("k") == 0 and runner.in_flight() == 0
    finally:
        gate.set()
        runner.close()


def test_errors_reach_the_caller_and_free_the_slot() -> None:
    runner = WarehouseRunner(threads=1, per_key=1)

    def fail() -> None:
        raise ValueError("boom")

    async def scenario() -> None:
        with pytest.raises(ValueError, match="boom"):
            await runner.run("k", fail)
        assert await runner.run("k", lambda: 1) == 1

    try:
        asyncio.run(scenario())
    finally:
        runner.close()


def test_validation_is_not_limited_per_key_and_not_blocked_by_previews() -> None:
    runner = WarehouseRunner(threads=1, per_key=1)
    gate = threading.Event()

    async def scenario() -> None:
        stuck = asyncio.ensure_future(runner.run("k", gate.wait))
        await asyncio.sleep(0)  # a yield: the preview takes the only rows thread
        checks = [runner.run("k", lambda i=i: i, lane="checks") for i in range(3)]
        assert await asyncio.gather(*checks) == [0, 1, 2]
        assert not stuck.done()
        gate.set()
        await stuck

    try:
        asyncio.run(scenario())
    finally:
        gate.set()
        runner.close()


def test_warehouse_threads_run_at_a_lower_priority() -> None:
    import os

    runner = WarehouseRunner(threads=1)

    async def scenario() -> int:
        return await runner.run(
            None, lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        )

    try:
        assert asyncio.run(scenario()) >= os.getpriority(os.PRIO_PROCESS, 0) + 1
    finally:
        runner.close()
