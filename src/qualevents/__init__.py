"""qualevents: a self-hostable, Statsig-compatible Console API for qualifying events.

The package's public surface is :class:`qualevents.Client`, :class:`qualevents.AsyncClient`,
the wire models they return (``qualevents.wire``) and the errors they raise
(``qualevents.errors``). The clients are imported lazily so that ``import qualevents.sql`` does
not pull in httpx.
"""

from typing import Any

__all__ = ["AsyncClient", "Client", "__version__"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in ("Client", "AsyncClient"):
        from qualevents import client

        return getattr(client, name)
    raise AttributeError(name)
