"""Warehouse URL query options, typed: each adapter declares the options it accepts as data
(``OPTIONS = {"ssl": BOOL, "timeout": INT, ...}``) and gets them parsed into the types its
driver expects. Imports ``errors`` only.

A driver that receives ``"false"`` where it expects ``False`` does the wrong thing quietly
(redshift_connector checks ``ssl is True`` and connects in plaintext; Databricks reads
``_tls_no_verify="false"`` as true; Trino takes ``verify="false"`` as a CA bundle path), so
booleans accept exactly ``true/false/1/0`` (any case) and an option the adapter does not
declare is refused by name, with a suggestion when one is close.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import SplitResult, parse_qs, urlsplit

from qualevents.errors import ConfigurationError, ErrorItem, did_you_mean

Parser = Callable[[str], Any]
_TRUE, _FALSE = ("true", "1"), ("false", "0")


def _fail(message: str) -> ConfigurationError:
    return ConfigurationError(message, [ErrorItem(("warehouse_url",), message)])


def BOOL(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("expected true, false, 1 or 0")


def INT(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError("expected a whole number") from None


def FLOAT(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ValueError("expected a number") from None


def STR(text: str) -> str:
    return text


def BOOL_OR_PATH(text: str) -> bool | str:
    """``true``/``false`` as booleans, anything else as it is (Trino's ``verify``: a flag or
    a CA bundle path)."""
    try:
        return BOOL(text)
    except ValueError:
        return text


def typed_options(
    adapter: str, raw: Mapping[str, str], accepted: Mapping[str, Parser]
) -> dict[str, Any]:
    """``raw`` parsed by ``accepted``; ConfigurationError naming an unknown option or a
    value of the wrong type."""
    typed: dict[str, Any] = {}
    for name, value in raw.items():
        parser = accepted.get(name)
        if parser is None:
            known = ", ".join(sorted(accepted)) or "none"
            raise _fail(
                f"Unknown {adapter} warehouse URL option {name!r}; accepted: {known}."
                f"{did_you_mean(name, list(accepted))}"
            )
        try:
            typed[name] = parser(value)
        except ValueError as error:
            raise _fail(f"{adapter} warehouse URL option {name!r}: {error}") from None
    return typed


def url_parts(
    url: str, adapter: str = "", accepted: Mapping[str, Parser] | None = None
) -> tuple[SplitResult, dict[str, Any]]:
    """The parts of a warehouse URL and its query options (last value wins), typed by
    ``accepted`` when given."""
    parts = urlsplit(url)
    raw = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    if accepted is None:
        return parts, raw
    return parts, typed_options(adapter, raw, accepted)
