"""The HTTP API (``tiller serve``): FastAPI over the service layer."""

from app.api.app import create_app

__all__ = ["create_app"]
