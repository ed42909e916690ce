"""qualevents: a self-hostable, Statsig-compatible Console API for qualifying events.

The package's public surface is :class:`qualevents.Client` and the errors it raises
(``qualevents.errors``). ``Client`` is imported lazily so that ``import qualevents.sql`` does
not pull in httpx.
"""

from typing import Any

__all__ = ["Client", "__version__"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "Client":
        from qualevents.client import Client

        return Client
    raise AttributeError(name)
