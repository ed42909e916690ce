"""PostgreSQL creates from many threads, by how other processes hear of them:
``python bench/pg_commits.py [--threads 16] [--creates 40]``.

Each variant creates ``threads x creates`` events through a store on a fresh database
(127.0.0.1:5432), every thread at once, and prints creates per second:

- ``no notification``: the change trigger disabled (the ceiling: nothing tells other
  processes; not a mode qualevents runs in);
- ``NOTIFY in the transaction``: a store without a cache (the CLI's), whose writes are
  notified by the trigger inside their transaction, as every write was before migration
  0010;
- ``announced after commit``: a server's store (``CachedStore``): the trigger is silent for
  its connections and it sends the notification after the commit (store/notify.py).

A ``NOTIFY`` takes a database-wide lock from the commit's start until it is flushed, so
writers that notify inside their transaction commit one after another.
Writes ``bench/results/pg_commits.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import threading
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from api import event_document, postgres_available, postgres_database  # bench/api.py

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "pg_commits.json"


def events(count: int) -> list:
    from qualevents.api.convert import event_from_body
    from qualevents.wire import CreateBody

    made = []
    for _ in range(count):
        body = CreateBody.model_validate(event_document(f"c_{uuid.uuid4().hex[:12]}"))
        made.append(event_from_body(body, body.name))
    return made


def creates_per_s(store, threads: int, creates: int) -> float:
    from qualevents.store.base import Actor

    actor = Actor(key_id=None, key_name=None)
    batches = [events(creates) for _ in range(threads)]

    def work(batch: list) -> None:
        for event in batch:
            store.create_event(event, actor)

    workers = [threading.Thread(target=work, args=(batch,)) for batch in batches]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return threads * creates / (time.perf_counter() - started)


def set_trigger(store, enabled: bool) -> None:
    with store.engine.begin() as conn:
        for table in ("qualifying_events", "api_keys"):
            action = "ENABLE" if enabled else "DISABLE"
            trigger = f"qualevents_{table}_changed"
            conn.execute(sa.text(f"ALTER TABLE {table} {action} TRIGGER {trigger}"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--creates", type=int, default=40, help="per thread")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if not postgres_available():
        print("nothing listening on 127.0.0.1:5432")
        return 1
    from qualevents.store import open_store

    rows: dict[str, list[float]] = {}
    with postgres_database() as url:
        server_store, cli_store = open_store(url), open_store(url, cache=False)
        try:
            for _ in range(args.rounds):  # interleaved, so the machine's noise falls on all
                set_trigger(cli_store, False)
                rate = creates_per_s(cli_store, args.threads, args.creates)
                rows.setdefault("no notification", []).append(rate)
                set_trigger(cli_store, True)
                rate = creates_per_s(cli_store, args.threads, args.creates)
                rows.setdefault("NOTIFY in the transaction", []).append(rate)
                rate = creates_per_s(server_store, args.threads, args.creates)
                rows.setdefault("announced after commit", []).append(rate)
        finally:
            server_store.close()
            cli_store.close()
    print(f"PostgreSQL creates, {args.threads} threads x {args.creates} each, per round")
    print(f"{'variant':28}{'creates/s per round':>30}")
    for name, rates in rows.items():
        print(f"{name:28}{', '.join(f'{r:,.0f}' for r in rates):>30}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "threads": args.threads,
        "creates_per_thread": args.creates,
        "creates_per_s": {name: [round(r, 1) for r in rates] for name, rates in rows.items()},
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
