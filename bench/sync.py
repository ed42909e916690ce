"""Benchmark of config as code on a local SQLite store: ``pull``, ``read_folder`` and a plan
of N sources (no changes, and every source changed), beside a baseline measured in the same
run: listing the same N stored documents (what any plan must read).

    .venv/bin/python bench/sync.py [--sources 1000] [--runs 5]

Prints a table and writes ``bench/results/sync.json``. Validation is static (no warehouse):
the warehouse's own time per changed source is ``bench/validate.py``'s.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from qualevents.service import QualifyingEventService
from qualevents.store import open_store
from qualevents.store.base import Actor
from qualevents.sync.files import read_folder, write_folder
from qualevents.sync.plan import DesiredSource, SyncService
from qualevents.validation import Validator
from qualevents.wire import to_wire

RESULTS = Path(__file__).parent / "results" / "sync.json"
SQL = (
    "SELECT ts, user_id, device_id, country\n"
    "FROM shoppy-sales.logging.events\n"
    "WHERE event_name = 'purchase{n}' AND price_usd > 0\n"
)


def timed(function: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/q.db", cache=False)
        service = QualifyingEventService(store, Validator(None))
        from qualevents.models import IdTypeMapping, QualifyingEvent

        for n in range(args.sources):
            service.create(
                QualifyingEvent(
                    name=f"Source {n}",
                    sql=SQL.format(n=n),
                    timestamp_column="ts",
                    id_type_mapping=[IdTypeMapping(statsig_unit_id="userID", column="user_id")],
                ),
                Actor(None, "bench"),
            )

        def documents() -> list[dict]:
            found, offset = [], 0
            while offset < args.sources:
                found += [to_wire(d) for d in store.list_event_documents(offset, 1000).items]
                offset += 1000
            return found

        folder = Path(tmp) / "defs"
        sync = SyncService({"qualifying_event": service})
        pull = timed(
            lambda: write_folder(folder, {"qualifying_event": documents()}, default_sync_id="b"),
            args.runs,
        )
        read = timed(lambda: read_folder(folder), args.runs)
        state = read_folder(folder)
        same = [DesiredSource("qualifying_event", s.data, s.file) for s in state.sources]
        changed = [
            DesiredSource("qualifying_event", {**s.data, "sql": s.data["sql"] + " AND 1 = 1"})
            for s in state.sources
        ]
        baseline = timed(documents, args.runs)
        unchanged = timed(lambda: sync.plan("b", same, prune=True), args.runs)
        all_changed = timed(lambda: sync.plan("b", changed, prune=True), args.runs)
        assert not sync.plan("b", same, prune=True).changes
        assert len(sync.plan("b", changed, prune=False).changes) == args.sources
    rows = [
        ("list N stored documents (baseline)", baseline),
        ("pull (list + write N files, unchanged)", pull),
        ("read_folder (parse N YAML files)", read),
        ("plan, no changes", unchanged),
        ("plan, every source changed (static validation)", all_changed),
    ]
    print(f"{args.sources} sources, median of {args.runs} runs, {platform.python_version()}")
    print(f"{'step':<52}{'ms':>10}{'x baseline':>12}{'ms/source':>12}")
    for name, seconds in rows:
        print(
            f"{name:<52}{seconds * 1000:>10.1f}{seconds / baseline:>12.1f}"
            f"{seconds * 1000 / args.sources:>12.3f}"
        )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {"sources": args.sources, "runs": args.runs, "ms": {n: s * 1000 for n, s in rows}},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
