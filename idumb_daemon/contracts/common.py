"""Shapes shared by every area (results, error data) and `Method`, the entry
of the method table that each area module defines for its methods."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import attrs

P = TypeVar("P")
R = TypeVar("R")


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


@attrs.frozen
class Method(Generic[P, R]):
    """One request method. `P` and `R` are its params and result types, for
    the type checker; `params` and `result` the same at run time."""

    name: str
    params: type[P] | None
    """None: the method takes no params."""
    result: Any
    """A type expression, e.g. `SettingsEntry | None`; None for a null result."""
    writes: bool = False
    """Whether it may change stored data (settings/import does unless dryRun)."""
