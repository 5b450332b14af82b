"""Shapes shared by every area: results and error data."""

from __future__ import annotations

import attrs


@attrs.frozen
class DeleteResult:
    deleted: bool
    """False: there was nothing to delete."""


@attrs.frozen
class FieldError:
    path: str
    """Dotted, with array indices, relative to params ("" for params themselves)."""
    message: str


@attrs.frozen
class InvalidParamsData:
    errors: list[FieldError]


@attrs.frozen
class MethodNotFoundData:
    method: str


@attrs.frozen
class StorageErrorData:
    reason: str


@attrs.frozen
class SchemaTooNewData:
    reason: str
    database_version: int
    supported_version: int


class ParamsInvalid(Exception):
    """Structuring refused its input; one FieldError per failing field."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.path or '(root)'}: {e.message}" for e in errors))
        self.errors = errors
