"""The validation report of each source's last write, as a mixin of SQLStore, so a list
can show every source's state without asking the warehouse. Imports ``store.engine``,
``store.schema``.

One row per source (kind, name): the revision the report is of and the report itself
(``ValidationReport.to_dict()``: valid, errors, warnings, columns, mode). A write replaces
it; a write that had no report (no validator) removes it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from qualevents.store.engine import as_utc, json_text, utc_now
from qualevents.store.schema import qualifying_events, validation_reports

_T = validation_reports


class ReportsMixin:
    kind: str
    _write: Callable[..., Any]
    _read: Callable[..., Any]

    def save_validation_report(
        self, name: str, revision: int, report: dict[str, Any] | None
    ) -> None:
        """Keep ``report`` as the state of ``name`` at ``revision`` (None: forget it)."""
        mine = sa.and_(_T.c.kind == self.kind, _T.c.name == name)
        with self._write() as conn:
            conn.execute(_T.delete().where(mine))
            if report is not None:
                conn.execute(
                    _T.insert().values(
                        kind=self.kind,
                        name=name,
                        revision=revision,
                        report=json_text(report),
                        checked_at=utc_now(),
                    )
                )

    def validation_reports(self, names: list[str] | None = None) -> dict[str, dict[str, Any]]:
        """The kept reports of this kind's sources (of ``names`` only, when given) that are
        of their current revision, by name: each is the report with ``revision`` and
        ``checkedAt`` added. (A change applied without a report, such as an approved
        review, leaves the older report out.)"""
        events = qualifying_events.c
        query = (
            sa.select(_T)
            .select_from(
                _T.join(
                    qualifying_events,
                    sa.and_(
                        events.kind == _T.c.kind,
                        events.name == _T.c.name,
                        events.revision == _T.c.revision,
                    ),
                )
            )
            .where(_T.c.kind == self.kind)
        )
        if names is not None:
            query = query.where(_T.c.name.in_(names))
        with self._read() as conn:
            rows = conn.execute(query).all()
        found = {}
        for row in rows:
            report = json.loads(row.report)
            report["revision"] = row.revision
            report["checkedAt"] = as_utc(row.checked_at)
            found[row.name] = report
        return found
