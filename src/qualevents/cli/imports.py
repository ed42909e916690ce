"""``import --from-statsig``: copy every qualifying event, metric source (and assignment
source, where the target serves them) of a Statsig project through Statsig's Console API,
into a folder (``sync.files``) or straight into a qualevents server, and say what could not
be carried (fields qualevents does not have, sources the target refused).

Statsig documents its Console API limit as about 100 requests per 10 s and 900 per 15 min
per project: requests are paced to stay under it (``--statsig-rate-limit``), and a 429 is
waited out for its ``Retry-After`` and retried (the client's own retry)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from qualevents.cli.common import ApiKeyOption, JsonOutput, RemoteUrl, app, err, fail, usage
from qualevents.cli.folders import PANEL
from qualevents.cli.plan_view import say
from qualevents.cli.targets import Remote
from qualevents.errors import QualeventsError

STATSIG_RATE_LIMIT = "statsig"  # ratelimit.PRESETS: 100/10,900/900
STATSIG_PAGE_SIZE = 100


class Pacer:
    """At most N requests in any SECONDS for each rule (a sliding window per rule)."""

    def __init__(
        self,
        spec: str,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        from qualevents.ratelimit import parse_rules

        self.rules = parse_rules(spec)
        self.sent: list[deque[float]] = [deque() for _ in self.rules]
        self.clock, self.sleep = clock, sleep
        self.waited_s = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            while True:
                now = self.clock()
                delay = 0.0
                for rule, sent in zip(self.rules, self.sent, strict=True):
                    while sent and sent[0] <= now - rule.seconds:
                        sent.popleft()
                    if len(sent) >= rule.requests:
                        delay = max(delay, sent[0] + rule.seconds - now)
                if delay <= 0:
                    for sent in self.sent:
                        sent.append(now)
                    return
                self.waited_s += delay
                self.sleep(delay)


@dataclass
class ImportReport:
    copied: dict[str, int] = field(default_factory=dict)
    # field -> the sources (kind/name) that had it
    dropped_fields: dict[str, list[str]] = field(default_factory=dict)
    not_carried: list[dict[str, str]] = field(default_factory=list)
    written: dict[str, int] = field(default_factory=dict)
    rate_limited: int = 0
    rate_limit_wait_s: float = 0.0
    paced_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "copied": self.copied,
            "written": self.written,
            "droppedFields": self.dropped_fields,
            "notCarried": self.not_carried,
            "rateLimited": self.rate_limited,
            "rateLimitWaitSeconds": round(self.rate_limit_wait_s, 3),
            "pacedSeconds": round(self.paced_s, 3),
        }


def carry(kind: Any, document: dict[str, Any], report: ImportReport) -> dict[str, Any]:
    """The fields of ``document`` qualevents has (the kind's body); others are reported."""
    from qualevents.sync.files import field_order
    from qualevents.sync.kinds import NOT_IN_FILES

    known = {"name", *field_order(kind)} - set(NOT_IN_FILES)
    ref = f"{kind.name}/{document.get('name')}"
    for key in document:
        if key not in known:
            report.dropped_fields.setdefault(key, []).append(ref)
    return {key: value for key, value in document.items() if key in known}


def _statsig_client(url: str, key: str, pacer: Pacer, report: ImportReport) -> Remote:
    def sleep(seconds: float) -> None:
        report.rate_limited += 1
        report.rate_limit_wait_s += seconds
        time.sleep(seconds)

    return Remote(url, key, review=False, max_retries=8, max_retry_wait_s=900.0, sleep=sleep)


def read_statsig(
    statsig: Remote, pacer: Pacer, page_size: int, report: ImportReport, kinds: list[Any]
) -> dict[str, list[dict[str, Any]]]:
    """Every source of each kind, page by page, with a progress bar per kind on stderr."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    found: dict[str, list[dict[str, Any]]] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=False,
    ) as progress:
        for kind in kinds:
            task = progress.add_task(f"{kind.noun}s", total=None)
            documents: list[dict[str, Any]] = []
            page = 1
            while True:
                pacer.wait()
                try:
                    with statsig.reaching():
                        answer = statsig.client.list_qualifying_events(
                            limit=page_size, page=page, kind=kind.name
                        )
                except QualeventsError as error:
                    report.not_carried.append(
                        {
                            "kind": kind.name,
                            "name": "*",
                            "reason": f"could not list {kind.noun}s: {error.message}",
                        }
                    )
                    break
                items = [i for i in answer.body.get("data") or [] if isinstance(i, dict)]
                documents += items
                total = answer.pagination.total_items if answer.pagination else len(documents)
                progress.update(task, total=total, completed=len(documents))
                if not items or not answer.pagination or not answer.pagination.next_page:
                    break
                page += 1
            found[kind.name] = [carry(kind, d, report) for d in documents]
            report.copied[kind.name] = len(documents)
    report.paced_s = pacer.waited_s
    return found


def _same(stored: dict[str, Any], document: dict[str, Any]) -> bool:
    """Whether writing ``document`` would change nothing but bookkeeping."""
    bookkeeping = {"owner", "isReadOnly", "managedBy"}
    extra = set(stored) - set(document) - bookkeeping
    return not extra and all(stored.get(key) == value for key, value in document.items())


def write_to_server(
    target: Remote, found: dict[str, list[dict[str, Any]]], report: ImportReport
) -> None:
    """Create each source, or update it when the name exists and differs (If-Match on the
    revision read); a source the server refuses is reported, the others are carried."""
    for kind, documents in found.items():
        report.written[kind] = 0
        for document in documents:
            name = str(document.get("name"))
            try:
                with target.reaching():
                    _write_one(target, kind, name, document, report)
            except QualeventsError as error:
                details = "; ".join(
                    f"{'.'.join(map(str, e.loc)) + ': ' if e.loc else ''}{e.message}"
                    for e in error.errors
                )
                report.not_carried.append(
                    {
                        "kind": kind,
                        "name": name,
                        "reason": f"{error.message}{': ' + details if details else ''}",
                    }
                )


def _write_one(
    target: Remote, kind: str, name: str, document: dict[str, Any], report: ImportReport
) -> None:
    from qualevents.errors import NotFound

    try:
        current = target.client.get_qualifying_event(name, kind=kind)
    except NotFound:
        target.client.create_qualifying_event(document, kind=kind)
        report.written[kind] += 1
        return
    if _same(current.body["data"], document):
        return
    target.client.update_qualifying_event(name, document, if_match=current.etag, kind=kind)
    report.written[kind] += 1


def _render(report: ImportReport, destination: str) -> None:
    copied = ", ".join(f"{n} {kind.replace('_', ' ')}(s)" for kind, n in report.copied.items())
    say(f"Read {copied} from Statsig.")
    if report.written:
        written = ", ".join(f"{n} {k.replace('_', ' ')}(s)" for k, n in report.written.items())
        say(f"Wrote {written} to {destination} (the others were already the same).")
    if report.rate_limited:
        say(
            f"Statsig answered 429 {report.rate_limited} time(s); waited "
            f"{report.rate_limit_wait_s:.1f} s as its Retry-After asked."
        )
    if report.dropped_fields:
        say("Fields qualevents does not keep (dropped):")
        for name, refs in sorted(report.dropped_fields.items()):
            shown = ", ".join(refs[:3]) + (f" and {len(refs) - 3} more" if len(refs) > 3 else "")
            say(f"  {name}: on {shown}")
    if report.not_carried:
        say("Not carried:")
        for item in report.not_carried:
            say(f"  {item['kind'].replace('_', ' ')} {item['name']!r}: {item['reason']}")


@app.command("import", rich_help_panel=PANEL)
def import_(
    folder: Annotated[
        Path | None, typer.Argument(help="Write the sources into this folder (as `pull` does)")
    ] = None,
    from_statsig: Annotated[
        bool, typer.Option("--from-statsig", help="Read from Statsig's Console API")
    ] = False,
    statsig_url: Annotated[
        str,
        typer.Option("--statsig-url", envvar="STATSIG_CONSOLE_URL", help="Statsig's base URL"),
    ] = "https://statsigapi.net",
    statsig_api_key: Annotated[
        str | None,
        typer.Option(
            "--statsig-api-key", envvar="STATSIG_CONSOLE_API_KEY", help="A Statsig console key"
        ),
    ] = None,
    statsig_rate_limit: Annotated[
        str,
        typer.Option(
            "--statsig-rate-limit",
            help="Pace requests to Statsig: 'statsig' (100/10,900/900) or N/SECONDS,...",
        ),
    ] = STATSIG_RATE_LIMIT,
    page_size: Annotated[
        int, typer.Option("--page-size", min=1, max=1000, help="Sources per list page")
    ] = STATSIG_PAGE_SIZE,
    url: RemoteUrl = None,
    api_key: ApiKeyOption = None,
    as_json: JsonOutput = False,
) -> None:
    """Copy a Statsig project's sources into FOLDER or a qualevents server (--url)."""
    from qualevents.sync.files import slug, write_folder
    from qualevents.sync.kinds import KINDS

    if not from_statsig:
        usage("say where to import from: --from-statsig")
    if not statsig_api_key:
        usage("--statsig-api-key (or $STATSIG_CONSOLE_API_KEY) is required")
    if (folder is None) == (url is None):
        usage("give either a FOLDER or --url (a qualevents server), not both")
    report = ImportReport()
    try:
        pacer = Pacer(statsig_rate_limit)
        # Each source is written as itself (a create or an If-Match update), not held for
        # review: an import is a copy, reviewed as a whole before it is run.
        target = Remote(url, api_key, review=False) if url else None
        statsig = _statsig_client(statsig_url, statsig_api_key, pacer, report)
        found = read_statsig(statsig, pacer, page_size, report, list(KINDS))
        if target is not None:
            write_to_server(target, found, report)
            destination = target.target
        else:
            assert folder is not None
            summary = write_folder(folder, found, default_sync_id=slug(folder.resolve().name))
            report.written = {"file": len(summary.written)}
            destination = str(folder)
    except QualeventsError as error:
        fail(error)
    if as_json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        _render(report, destination)
    if report.not_carried:
        raise typer.Exit(1)
