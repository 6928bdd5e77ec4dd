"""The engine's errors: what either official client raises, mapped onto three exceptions.

:class:`EngineUnavailable` (the node cannot be reached, or answers 429/5xx: worth retrying),
:class:`NotFound` (404) and :class:`EngineError` (the request was wrong). ``indexing.engine``
exports them too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: HTTP statuses worth retrying: the node is busy or briefly unhealthy.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


class EngineError(Exception):
    """The engine rejected a request (bad body, missing index, ...)."""

    def __init__(self, message: str, *, status: int | None = None, error_type: str | None = None,
                 info: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.info = info

    @property
    def retryable(self) -> bool:
        return self.status in RETRYABLE_STATUSES or (self.status is not None and self.status >= 500)


class EngineUnavailable(EngineError):
    """The engine cannot be reached (connection refused, timeout) or is overloaded."""

    @property
    def retryable(self) -> bool:
        return True


class NotFound(EngineError):
    """The index, alias or document does not exist (HTTP 404)."""


def error_type(info: Any) -> str | None:
    if isinstance(info, Mapping):
        err = info.get("error")
        if isinstance(err, Mapping):
            return str(err.get("type")) if err.get("type") else None
        if isinstance(err, str):
            return err
    return None


def translate(exc: Exception) -> EngineError:
    """Map an exception of either client onto ours."""
    import elastic_transport
    import elasticsearch
    import opensearchpy

    if isinstance(exc, EngineError):
        return exc
    # Connection-level failures first: both clients model them as transport errors without status.
    if isinstance(exc, (elastic_transport.ConnectionError, elastic_transport.ConnectionTimeout,
                        elastic_transport.TlsError, opensearchpy.ConnectionError,
                        opensearchpy.ConnectionTimeout)):
        return EngineUnavailable(f"search engine unreachable: {exc}")
    if isinstance(exc, elasticsearch.ApiError):
        status: int | None = exc.meta.status if exc.meta is not None else None
        info = exc.body
        cls: type[EngineError] = EngineError
        if status == 404:
            cls = NotFound
        elif status in RETRYABLE_STATUSES:
            cls = EngineUnavailable
        return cls(f"search engine error {status}: {exc.message} {error_type(info) or ''}".strip(),
                   status=status, error_type=error_type(info), info=info)
    if isinstance(exc, opensearchpy.TransportError):
        os_status: int | None = exc.status_code if isinstance(exc.status_code, int) else None
        status = os_status
        info = exc.info
        cls = EngineError
        if status == 404:
            cls = NotFound
        elif status in RETRYABLE_STATUSES:
            cls = EngineUnavailable
        return cls(f"search engine error {status}: {exc.error}", status=status,
                   error_type=error_type(info) or (exc.error if isinstance(exc.error, str) else None),
                   info=info)
    if isinstance(exc, (elastic_transport.TransportError, elasticsearch.UnsupportedProductError)):
        return EngineUnavailable(f"search engine transport error: {exc}")
    raise exc

