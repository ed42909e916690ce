"""The ``qualevents`` command: serve, keys, db, settings, events, validate, preview, daily,
filter-exposures, power, jobs, pull, plan, apply, import.
Imports everything below it; nothing imports it. Each command module registers its
commands on the one Typer app in ``common``."""

from __future__ import annotations

import sys

from qualevents.cli import (  # noqa: F401 - they register commands
    admin,
    analyses,
    data,
    folders,
    imports,
    power,
    server,
)
from qualevents.cli.common import app, err
from qualevents.errors import QualeventsError

__all__ = ["app", "main"]


def main() -> None:
    try:
        if "--detailed-exitcode" in sys.argv[1:]:
            sys.exit(_detailed_exit_codes())
        app()
    except QualeventsError as error:  # pragma: no cover - each command handles its own
        err.print(f"error: {error}")
        sys.exit(1)


def _detailed_exit_codes() -> int:
    """``plan --detailed-exitcode`` as Terraform's: 2 means "there are changes", so a
    usage error (click's 2) exits 1 like every other error."""
    import click

    try:
        code = app(standalone_mode=False)
    except click.UsageError as error:
        error.show()
        return 1
    except click.ClickException as error:
        error.show()
        return 1
    except click.Abort:
        err.print("Aborted!")
        return 1
    return code if isinstance(code, int) else 0
