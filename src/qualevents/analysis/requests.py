"""The request bodies of the analyses, as on the wire (camelCase aliases), with every
default and bound of issues 12 and 13, and the checks that need more than one field or the
qualifying event itself. Imports ``pydantic``, ``errors`` and ``models``.

``parse`` turns a body into a request or raises one ValidationFailed listing every problem
at once; each ErrorItem's ``loc`` is the wire path (``("window", "unit")``), since these
models are the wire schema. ``problems_with(event, ...)`` adds the checks that depend on
the sources (``timestampAsDay``).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from qualevents.errors import ErrorItem, ValidationFailed
from qualevents.models import MAX_FORMULA_LENGTH, MAX_IDENTIFIER_LENGTH, QualifyingEvent

MAX_WAIT_S = 60.0
DEFAULT_WAIT_S = 10.0
MAX_WEEKS = 12
MAX_GROUPS = 100
MAX_WINDOW = {"minutes": 60 * 24 * 366, "hours": 24 * 366, "days": 366}
MAX_DAYS = 366

Name = Annotated[str, Field(min_length=1, max_length=MAX_IDENTIFIER_LENGTH)]
Fragment = Annotated[str, Field(min_length=1, max_length=MAX_FORMULA_LENGTH)]
Wait = Annotated[float, Field(ge=0, le=MAX_WAIT_S)]


class _Body(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    @classmethod
    def parse(cls, body: Any) -> Self:
        """The request ``body`` stands for; ValidationFailed with every problem otherwise."""
        try:
            request = cls.model_validate(body)
        except ValidationError as error:
            raise ValidationFailed(errors=pydantic_items(error)) from None
        found = request.problems()
        if found:
            raise ValidationFailed(errors=found)
        return request

    def problems(self) -> list[ErrorItem]:
        return []


def pydantic_items(error: ValidationError) -> list[ErrorItem]:
    items = []
    for problem in error.errors(include_url=False):
        loc = tuple(problem["loc"])
        if problem["type"] == "missing":
            message = "Required"
        elif problem["type"] == "extra_forbidden":
            message = f"Unknown field {loc[-1]!r}"
        else:
            message = problem["msg"]
        items.append(ErrorItem(loc, message))
    return items


class Window(_Body):
    amount: Annotated[int, Field(ge=1)]
    unit: Literal["minutes", "hours", "days"]

    def problems(self) -> list[ErrorItem]:
        limit = MAX_WINDOW[self.unit]
        if self.amount > limit:
            return [ErrorItem(("window", "amount"), f"At most {limit} {self.unit}")]
        return []

    @property
    def minutes(self) -> int:
        return self.amount * {"minutes": 1, "hours": 60, "days": 60 * 24}[self.unit]


class FilterExposuresRequest(_Body):
    """``POST .../qualifying_events/{name}/-/filter_exposures``."""

    assignment_source: Name
    experiment_id: Annotated[str, Field(alias="experimentID", min_length=1, max_length=1000)]
    unit_type: Name | None = None
    start: date | None = None
    end: date | None = None
    mode: Literal["include", "exclude"] = "include"
    window: Window | None = None
    replace_exposure_timestamp: bool = False
    match_against: Literal["firstExposure", "anyExposure"] = "firstExposure"
    event_filter: Fragment | None = None
    expected_split: dict[str, Annotated[float, Field(gt=0, allow_inf_nan=False)]] | None = None
    wait: Wait = DEFAULT_WAIT_S

    def problems(self) -> list[ErrorItem]:
        found = self.window.problems() if self.window else []
        if self.start and self.end and self.start > self.end:
            found.append(ErrorItem(("start",), f"start {self.start} is after end {self.end}"))
        if self.replace_exposure_timestamp and self.mode == "exclude":
            found.append(
                ErrorItem(
                    ("replaceExposureTimestamp",),
                    "Only allowed with mode 'include': excluded units have no qualifying "
                    "event to take the exposure time from",
                )
            )
        if self.expected_split is not None and not self.expected_split:
            found.append(ErrorItem(("expectedSplit",), "Must name at least one group"))
        return found

    def problems_with(self, event: QualifyingEvent) -> list[ErrorItem]:
        """Checks against the qualifying event the request filters by."""
        if event.timestamp_as_day and self.window and self.window.unit != "days":
            return [
                ErrorItem(
                    ("window", "unit"),
                    f"The qualifying event {event.name!r} has timestampAsDay: its events have "
                    f"a day, not a time, so a window must be in days (got {self.window.unit})",
                )
            ]
        return []


class Metric(_Body):
    type: Literal["sum", "count", "conversion", "mean", "ratio"]
    value_column: Name | None = None
    numerator_column: Name | None = None
    denominator_column: Name | None = None

    def problems(self) -> list[ErrorItem]:
        needed = {
            "sum": ("valueColumn",),
            "mean": ("valueColumn",),
            "ratio": ("numeratorColumn", "denominatorColumn"),
        }.get(self.type, ())
        found = []
        for alias in ("valueColumn", "numeratorColumn", "denominatorColumn"):
            given = getattr(self, _snake(alias)) is not None
            if alias in needed and not given:
                found.append(ErrorItem(("metric", alias), f"Required for a {self.type} metric"))
            elif given and alias not in needed:
                found.append(
                    ErrorItem(("metric", alias), f"Not used by a {self.type} metric; leave it out")
                )
        return found


def _snake(alias: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in alias)


class Cuped(_Body):
    pre_days: Annotated[int, Field(ge=1, le=MAX_DAYS)] = 7


class PowerRequest(_Body):
    """``POST .../qualifying_events/{name}/-/power``."""

    metric_source: Name
    metric: Metric
    metric_filter: Fragment | None = None
    event_filter: Fragment | None = None
    unit_type: Name | None = None
    weeks: Annotated[int, Field(ge=1, le=MAX_WEEKS)] = 4
    end: date | None = None
    metric_window_days: Annotated[int, Field(ge=1, le=MAX_DAYS)] | None = None
    alpha: Annotated[float, Field(gt=0, lt=1)] = 0.05
    power: Annotated[float, Field(gt=0, lt=1)] = 0.8
    alternative: Literal["two-sided", "one-sided"] = "two-sided"
    groups: Annotated[int, Field(ge=2, le=MAX_GROUPS)] = 2
    control_share: Annotated[float, Field(gt=0, lt=1)] | None = None
    allocation: Annotated[float, Field(gt=0, le=1)] = 1.0
    bonferroni: bool = False
    cuped: Cuped | None = None
    wait: Wait = DEFAULT_WAIT_S

    @property
    def resolved_control_share(self) -> float:
        return self.control_share if self.control_share is not None else 1.0 / self.groups

    def problems(self) -> list[ErrorItem]:
        found = [
            ErrorItem(("metric", *item.loc[1:]), item.message) for item in self.metric.problems()
        ]
        if self.cuped is not None and self.metric.type in ("mean", "ratio"):
            found.append(
                ErrorItem(
                    ("cuped",),
                    f"CUPED is available for sum, count and conversion metrics, not "
                    f"{self.metric.type}: a {self.metric.type} is a ratio of per-unit sums, "
                    "whose variance comes from the delta method",
                )
            )
        return found
