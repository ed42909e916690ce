"""The ``qualevents`` command: serve, keys, db, settings, events, validate, preview, daily,
filter-exposures, power, jobs.
Imports everything below it; nothing imports it. Each command module registers its
commands on the one Typer app in ``common``."""

from __future__ import annotations

import sys

from qualevents.cli import (  # noqa: F401 - they register commands
    admin,
    analyses,
    data,
    power,
    server,
)
from qualevents.cli.common import app, err
from qualevents.errors import QualeventsError

__all__ = ["app", "main"]


def main() -> None:
    try:
        app()
    except QualeventsError as error:  # pragma: no cover - each command handles its own
        err.print(f"error: {error}")
        sys.exit(1)
