"""JSON-RPC error codes and the mapping of domain failures onto them."""

from __future__ import annotations

from typing import Any, Final

from lsprotocol.types import ErrorCodes, LSPErrorCodes

from idumb_daemon.storage.errors import (
    Conflict,
    SchemaTooNew,
    StorageBusy,
    StorageCorrupt,
    StorageError,
    StorageFull,
    StorageReadOnly,
    StorageUnavailable,
    TextNotStorable,
)

# JSON-RPC's and LSP's own codes, as lsprotocol names them; plain ints, as
# they go on the wire.
PARSE_ERROR: Final[int] = ErrorCodes.ParseError.value
INVALID_REQUEST: Final[int] = ErrorCodes.InvalidRequest.value
METHOD_NOT_FOUND: Final[int] = ErrorCodes.MethodNotFound.value
INVALID_PARAMS: Final[int] = ErrorCodes.InvalidParams.value
INTERNAL_ERROR: Final[int] = ErrorCodes.InternalError.value
REQUEST_CANCELLED: Final[int] = LSPErrorCodes.RequestCancelled.value

# Outside the ranges JSON-RPC (-32768..-32000) and LSP (-32899..-32800) reserve.
STORAGE_CODES: Final[dict[type[StorageError], int]] = {
    StorageBusy: -31001,
    StorageReadOnly: -31002,
    StorageFull: -31003,
    StorageCorrupt: -31004,
    SchemaTooNew: -31005,
    StorageUnavailable: -31006,
    Conflict: -31007,
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
