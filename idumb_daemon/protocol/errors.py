"""JSON-RPC error codes and the mapping of domain failures onto them."""

from __future__ import annotations

from typing import Any, Final

from idumb_daemon.storage.errors import (
    SchemaTooNew,
    StorageBusy,
    StorageCorrupt,
    StorageError,
    StorageFull,
    StorageReadOnly,
    StorageUnavailable,
    TextNotStorable,
)

PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603
REQUEST_CANCELLED: Final = -32800

# Outside the ranges JSON-RPC (-32768..-32000) and LSP (-32899..-32800) reserve.
STORAGE_CODES: Final[dict[type[StorageError], int]] = {
    StorageBusy: -31001,
    StorageReadOnly: -31002,
    StorageFull: -31003,
    StorageCorrupt: -31004,
    SchemaTooNew: -31005,
    StorageUnavailable: -31006,
}


class RpcError(Exception):
    """An error response to send: code, message and optional data."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def storage_error(exc: StorageError) -> RpcError:
    if isinstance(exc, TextNotStorable):
        # A limit of the backend, so an invalid-params error like any other
        # limit; the field is not known down in storage.
        return RpcError(
            INVALID_PARAMS,
            f"invalid params: {exc}",
            {"errors": [{"path": "", "message": str(exc)}]},
        )
    code = next(
        (code for cls, code in STORAGE_CODES.items() if isinstance(exc, cls)), INTERNAL_ERROR
    )
    return RpcError(code, f"storage {exc.reason}: {exc}", {"reason": exc.reason, **exc.details()})
