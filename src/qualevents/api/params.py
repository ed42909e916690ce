"""Query and path parameters, one parser per kind: whole numbers (limits, pages, days, row
numbers), days, and moments. Every route that takes one uses these, so ``limit=2.0`` is 2
and ``2.5`` a 400 everywhere, and impossible or out-of-range dates are 400s, never 500s.
Imports ``service`` (page sizes) only.

A blank value (``?limit=``) means "not given", as Statsig's clients send it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query
from pydantic import AfterValidator, BeforeValidator

from qualevents.service import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

# Beyond this the row offset overflows the databases' 64-bit integers.
MAX_PAGE_NUMBER = 1_000_000_000
# Revision numbers and change request ids are 32-bit integer columns.
MAX_ROW_NUMBER = 2**31 - 1
# Days far enough from the calendar's ends that a window around them (29 days back, a day
# forward) stays a date.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(9998, 12, 31)


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _in_calendar(value: date | None) -> date | None:
    if value is not None and not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"Must be a day from {FIRST_DAY} to {LAST_DAY}")
    return value


def _moment(value: Any, *, end: bool = False) -> Any:
    """``YYYY-MM-DD`` (the start of that day, UTC; for an ``end``, of the next day, so the
    whole day is included) or an ISO timestamp (UTC if naive)."""
    if not isinstance(value, str):
        return value
    try:
        if len(value) == 10:
            day = _in_calendar(date.fromisoformat(value))
            start = datetime.combine(day, time.min, tzinfo=UTC)  # type: ignore[arg-type]
            return start + timedelta(days=1) if end else start
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"Expected YYYY-MM-DD or an ISO timestamp; got {value!r}") from None
    _in_calendar(moment.date())
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


Blank = BeforeValidator(_blank_is_none)
Whole = Annotated[int | None, Blank]
Day = Annotated[date | None, Blank, AfterValidator(_in_calendar)]
Since = Annotated[datetime | None, Blank, BeforeValidator(_moment)]
Until = Annotated[datetime | None, Blank, BeforeValidator(partial(_moment, end=True))]
SortOrder = Annotated[Literal["asc", "desc"] | None, Blank, BeforeValidator(_lower)]
RowNumber = Annotated[int, Path(ge=1, le=MAX_ROW_NUMBER, description="A number from 1")]


@dataclass(frozen=True)
class Paging:
    """Statsig's ``limit``/``page``: numbers (possibly sent as strings); a limit above the
    maximum is clamped to it."""

    limit: int
    page: int


async def _paging(
    limit: Annotated[
        Whole,
        Query(
            ge=1,
            description=f"Results per page (default {DEFAULT_PAGE_SIZE}, "
            f"at most {MAX_PAGE_SIZE}: more is clamped)",
        ),
    ] = None,
    page: Annotated[
        Whole, Query(ge=1, le=MAX_PAGE_NUMBER, description="Page number, from 1")
    ] = None,
) -> Paging:
    return Paging(min(limit or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE), page or 1)


PagingParams = Annotated[Paging, Depends(_paging)]
