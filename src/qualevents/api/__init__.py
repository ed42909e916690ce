"""The HTTP layer: ``create_app(settings)`` builds the FastAPI application."""

from qualevents.api.app import create_app

__all__ = ["create_app"]
