"""The contracts as the generators see them: named definitions of wire types.

Python typing is read once, in `walk`; the renderers only ever meet these nodes.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import attrs

PrimName: TypeAlias = Literal["string", "integer", "number", "boolean", "null"]


@attrs.frozen
class Prim:
    name: PrimName


@attrs.frozen
class Lit:
    """One of these strings."""

    values: tuple[str, ...]


@attrs.frozen
class JsonObj:
    """Any JSON object."""


@attrs.frozen
class JsonAny:
    """Any JSON value."""


@attrs.frozen
class ListOf:
    item: Node


@attrs.frozen
class Ref:
    """A named definition of the same `Contracts`."""

    name: str


@attrs.frozen
class AnyOf:
    members: tuple[Node, ...]


@attrs.frozen
class Limited:
    """`base` restricted by JSON Schema keywords (maxLength, minimum, ...), which
    TypeScript cannot express."""

    base: Node
    keywords: tuple[tuple[str, Any], ...]


Node: TypeAlias = Prim | Lit | JsonObj | JsonAny | ListOf | Ref | AnyOf | Limited

NULL: Node = Prim("null")


@attrs.frozen
class Field:
    name: str
    """As on the wire (camelCase)."""
    node: Node
    required: bool
    doc: str | None = None
    default: Any = None
    """The JSON value an omitted field takes, if it is worth saying (not null)."""


@attrs.frozen
class ObjectDef:
    name: str
    fields: tuple[Field, ...]
    doc: str | None = None
    extra: Literal["forbidden", "ignored", "kept"] = "forbidden"
    """What becomes of fields not listed: refused, accepted and dropped, or kept
    beside the listed ones (then `extra_doc` says what they are)."""
    extra_doc: str | None = None


@attrs.frozen
class AliasDef:
    name: str
    node: Node
    doc: str | None = None


Def: TypeAlias = ObjectDef | AliasDef


@attrs.frozen
class MethodDef:
    name: str
    params: Node | None
    """None: the method takes no params."""
    result: Node


@attrs.frozen
class Contracts:
    protocol_version: int
    defs: tuple[Def, ...]
    methods: tuple[MethodDef, ...]
    notifications: tuple[tuple[str, Node], ...]
    """Notification name and its params, daemon to client."""
