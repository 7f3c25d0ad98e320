"""The HTTP API: FastAPI app, SSE, OpenAI-compatible endpoint, auth, rate limits, metrics.

- ``create_app(runtime_or_settings)``: the app (``vaos.api.app``).
- ``serve(settings, host=, port=)``: the whole daemon on uvicorn (``vaos.api.daemon``).
- ``LiveServer(app)``: a real server on a free loopback port, for tests (``vaos.api.testing``).

Routes live in ``vaos.api.routes`` (one module per concern); the contract is INTERFACES.md
section 2 and ``docs/api.md``.
"""

from __future__ import annotations

from vaos.api.app import create_app
from vaos.api.errors import ApiError, ErrorResponse

__all__ = ["ApiError", "ErrorResponse", "create_app"]
