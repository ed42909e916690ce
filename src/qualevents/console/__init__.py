"""The web console: server-rendered pages over the same services as the API, for people
(issue 14). ``install(app)`` adds it to the API's application at ``/``.
A layer above ``api`` (it uses ``api.deps``); ``api`` never imports it.
"""

from qualevents.console.app import install

__all__ = ["install"]
