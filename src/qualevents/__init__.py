"""qualevents: a self-hostable, Statsig-compatible Console API for qualifying events.

The package's public surface is :class:`qualevents.client.Client` and the errors it raises.
"""

from qualevents.client import Client

__all__ = ["Client", "__version__"]
__version__ = "0.1.0"
