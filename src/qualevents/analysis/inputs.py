"""The sources an analysis reads besides the qualifying event: an assignment source (who was
exposed to which group of which experiment, and when) and a metric source. Imports
``errors`` and ``models``.

Both are the domain models: a metric source has the shape of a qualifying event, so
:data:`MetricSource` is :class:`~qualevents.models.QualifyingEvent`; an assignment source is
:class:`~qualevents.models.AssignmentSource`, which becomes a qualifying event
(:meth:`~qualevents.models.AssignmentSource.as_event`) where the analyses' queries need one.
"""

from __future__ import annotations

from collections.abc import Sequence

from qualevents.errors import ErrorItem, InvalidRequest
from qualevents.models import AssignmentSource, IdTypeMapping, QualifyingEvent

MetricSource = QualifyingEvent
__all__ = ["AssignmentSource", "MetricSource", "resolve_unit_type", "unit_column", "unit_types"]


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
