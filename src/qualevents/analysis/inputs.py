"""The sources an analysis reads besides the qualifying event: an assignment source (who was
exposed to which group of which experiment, and when) and a metric source. Imports
``errors`` and ``models``.

These are deliberately minimal stand-ins: the real domain models of assignment and metric
sources arrive with the sources issue (issue 11). A metric source has the shape of a
qualifying event, so :data:`MetricSource` is :class:`~qualevents.models.QualifyingEvent`;
an assignment source becomes one (:meth:`AssignmentSource.as_event`) so that both share
``sql.queries.effective_query``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from qualevents.errors import ErrorItem, InvalidRequest
from qualevents.models import IdTypeMapping, QualifyingEvent, SourceType

MetricSource = QualifyingEvent


@dataclass(frozen=True)
class AssignmentSource:
    """Exposure rows: a unit id per mapped unit type, a timestamp, an experiment and a group."""

    name: str
    timestamp_column: str
    experiment_id_column: str
    group_id_column: str
    id_type_mapping: tuple[IdTypeMapping, ...]
    sql: str | None = None
    table_name: str | None = None
    group_name_column: str | None = None
    source_type: SourceType = field(default=SourceType.QUERY)

    def as_event(self) -> QualifyingEvent:
        """The same rows as a qualifying-event definition (for ``effective_query``)."""
        return QualifyingEvent(
            name=self.name,
            sql=self.sql,
            source_type=self.source_type,
            table_name=self.table_name,
            timestamp_column=self.timestamp_column,
            id_type_mapping=list(self.id_type_mapping),
        )


def unit_types(mappings: Sequence[IdTypeMapping] | None) -> list[str]:
    return [m.statsig_unit_id for m in mappings or []]


def unit_column(mappings: Sequence[IdTypeMapping] | None, unit_type: str) -> str:
    for mapping in mappings or []:
        if mapping.statsig_unit_id == unit_type:
            return mapping.column
    raise KeyError(unit_type)


def resolve_unit_type(
    requested: str | None,
    first: tuple[str, Sequence[IdTypeMapping] | None],
    second: tuple[str, Sequence[IdTypeMapping] | None],
) -> str:
    """The unit type both sources map: ``requested`` if given (400 unless both map it), else
    the one type they share (400 when they share none or several). ``first`` and ``second``
    are (description, mappings): ``("assignment source 'exp'", [...])``."""
    (first_name, first_maps), (second_name, second_maps) = first, second
    first_types, second_types = unit_types(first_maps), unit_types(second_maps)
    shared = [t for t in first_types if t in second_types]
    loc = ("unitType",)
    if requested is not None:
        for name, types in ((first_name, first_types), (second_name, second_types)):
            if requested not in types:
                message = (
                    f"unitType {requested!r} is not mapped by the {name} "
                    f"(it maps: {', '.join(types) or 'none'})"
                )
                raise InvalidRequest(message, [ErrorItem(loc, message)])
        return requested
    if len(shared) == 1:
        return shared[0]
    if not shared:
        message = (
            f"The {first_name} ({', '.join(first_types) or 'no unit types'}) and the "
            f"{second_name} ({', '.join(second_types) or 'no unit types'}) map no unit type "
            "in common"
        )
    else:
        message = f"Both sources map several unit types ({', '.join(shared)}); give unitType"
    raise InvalidRequest(message, [ErrorItem(loc, message)])
