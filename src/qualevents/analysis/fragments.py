"""User filter expressions (``eventFilter``, ``metricFilter``): hostile SQL, parsed as one
boolean expression in the warehouse's dialect and held to the same per-row rules as a custom
field's formula (``sql.checks.row_expression_problem``): no subquery, statement, aggregate,
window function or ``*``. Imports ``sqlglot``, ``errors`` and ``sql``.

Every problem is a SQLInvalid whose item names the request property.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlglot import exp

from qualevents.errors import ErrorItem, SQLInvalid, did_you_mean
from qualevents.sql.checks import referenced_columns, row_expression_problem
from qualevents.sql.queries import formula_expression

# Expressions that are certainly not a condition: a number, a string, arithmetic.
_NOT_BOOLEAN = (
    exp.Literal,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.Mod,
    exp.DPipe,
    exp.Neg,
)


def _fail(prop: str, message: str, **extra: object) -> SQLInvalid:
    return SQLInvalid(
        f"{prop} is not a valid filter: {message}", [ErrorItem((prop,), message, extra)]
    )


def filter_expression(
    text: str, dialect: str | None, prop: str, columns: Iterable[str] | None = None
) -> exp.Expression:
    """``text`` as one per-row boolean expression. With ``columns`` (the source's columns and
    custom-field keys), every column it reads must be one of them."""
    try:
        expression = formula_expression(text, dialect, (prop,))
    except SQLInvalid as error:
        raise SQLInvalid(f"{prop} could not be parsed", error.errors) from None
    problem = row_expression_problem(expression, "a filter")
    if problem:
        raise _fail(prop, problem)
    inner = expression.unnest() if isinstance(expression, exp.Paren) else expression
    if isinstance(inner, _NOT_BOOLEAN):
        raise _fail(prop, f"Must be a condition (true or false per row), not {inner.sql(dialect)}")
    for node in expression.find_all(exp.Column):
        if node.table:
            raise _fail(
                prop,
                f"Name columns without a table or alias ({node.sql(dialect)}): the filter "
                "reads one row of its source",
            )
    if columns is not None:
        known = list(columns)
        folded = {name.lower() for name in known}
        for name in referenced_columns(expression):
            if name not in known and name.lower() not in folded:
                hint = did_you_mean(name, known)
                raise _fail(
                    prop,
                    f"Column {name!r} is not among the source's columns and custom fields: "
                    f"{', '.join(known) or '(none)'}.{hint}".rstrip("."),
                )
    return expression
