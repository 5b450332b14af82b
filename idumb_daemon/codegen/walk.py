"""Reads idumb_daemon.contracts into a `Contracts` model.

Wire names come from the converter's own renaming, what is optional from the attrs
defaults, what may be null from the converter's rule, limits from the JSON Schema
keywords each `Check` carries. A type the generators cannot render is an error,
never silently widened to "any".
"""

from __future__ import annotations

import ast
import inspect
import itertools
import operator
import re
import sys
from collections.abc import Iterator
from datetime import datetime
from functools import reduce
from types import NoneType, UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

import attrs

from idumb_daemon import contracts
from idumb_daemon.codegen.model import (
    NULL,
    AliasDef,
    AnyOf,
    Contracts,
    Def,
    Field,
    JsonAny,
    JsonObj,
    Limited,
    ListOf,
    Lit,
    MethodDef,
    Node,
    ObjectDef,
    Prim,
    PrimName,
    Ref,
)
from idumb_daemon.contracts import checks, converter

_PRIMS: tuple[tuple[type, PrimName], ...] = (
    (str, "string"),
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
)

TIME_DEF = AliasDef(
    "Time",
    Limited(
        Prim("string"),
        (("format", "date-time"), ("pattern", f"^{checks.TIME_PATTERN}$")),
    ),
    "RFC 3339 UTC with whole seconds, like 2026-11-26T01:10:58Z.",
)
"""The wire form of every `datetime`; the contracts have no alias of their own for it."""

_NOT_WIRE: tuple[type, ...] = (contracts.Method, checks.Check)
# The converter's one exception to forbidding unknown fields (LSP clients send many).
_IGNORES_EXTRA: tuple[type, ...] = (contracts.InitializeParams,)
# Open classes keep every other field in this attribute, flattened beside the rest.
_OPEN_EXTRA = "extra"


def _limits(base: Node, check: checks.Check) -> Node:
    """`base` as narrowed by a check, in the keywords the check carries."""
    if check.values is not None:
        return Lit(check.values)
    return Limited(base, tuple(check.schema.items()))


# The docs speak of Python values; the generated files are read by people on the wire.
_WIRE_WORDS = {"None": "null", "UNSET": "omitted", "True": "true", "False": "false"}
_PYTHON_WORD = re.compile(r"\b(?:" + "|".join(_WIRE_WORDS) + r")\b")


def wire_doc(doc: str) -> str:
    return _PYTHON_WORD.sub(lambda m: _WIRE_WORDS[m.group()], inspect.cleandoc(doc))


def attribute_docs(source: str) -> dict[tuple[str, str], str]:
    """The docstrings below annotated assignments, by (class name or "", attribute)."""
    docs: dict[tuple[str, str], str] = {}

    def scan(body: list[ast.stmt], owner: str) -> None:
        for stmt, after in itertools.pairwise(body):
            if (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[owner, stmt.target.id] = wire_doc(after.value.value)

    tree = ast.parse(source)
    scan(tree.body, "")
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            scan(node.body, node.name)
    return docs


def _is_alias(name: str, value: Any) -> bool:
    return not name.startswith("_") and get_origin(value) in (Literal, Annotated, dict)


def _is_wire_class(value: Any) -> bool:
    return (
        isinstance(value, type)
        and attrs.has(value)
        and value.__module__.startswith(contracts.__name__ + ".")
        and not value.__name__.startswith("_")
        and value not in _NOT_WIRE
    )


def _sources() -> str:
    """The source of every module of the contracts package."""
    names = sorted(n for n in sys.modules if n.startswith(contracts.__name__ + "."))
    return "\n".join(inspect.getsource(sys.modules[n]) for n in names)


class _Walker:
    def __init__(self) -> None:
        self.docs = attribute_docs(_sources())
        self.aliases = [(n, v) for n, v in vars(contracts).items() if _is_alias(n, v)]

    def node(self, t: Any) -> Node:
        for name, alias in self.aliases:
            if t == alias:
                return Ref(name)
        return self.expand(t)

    def expand(self, t: Any) -> Node:
        if t is None or t is type(None):
            return NULL
        if t is Any:
            return JsonAny()
        for python, prim in _PRIMS:
            if t is python:
                return Prim(prim)
        if t is datetime:
            return Ref(TIME_DEF.name)
        origin, args = get_origin(t), get_args(t)
        if origin is Annotated and isinstance(t.__metadata__[0], checks.Check):
            check = t.__metadata__[0]
            return _limits(self.node(check.wire or args[0]), check)
        if origin is Literal and all(type(arg) is str for arg in args):
            return Lit(args)
        if origin in (Union, UnionType):
            # UNSET is only ever a default: on the wire the rest of the union remains.
            members = tuple(self.node(arg) for arg in args if arg is not contracts.UnsetType)
            return members[0] if len(members) == 1 else AnyOf(members)
        if origin is list:
            return ListOf(self.node(args[0]))
        if origin is dict and args == (str, Any):
            return JsonObj()
        if isinstance(t, type) and _is_wire_class(t):
            return Ref(t.__name__)
        raise TypeError(f"codegen cannot render the type {t!r}")

    def field(self, cls: type, attribute: attrs.Attribute[Any], t: Any) -> Field:
        name = contracts.wire_name(attribute.name)
        if name in contracts.null_refused(cls) and get_origin(t) in (Union, UnionType):
            # The field may be omitted, but the converter refuses an explicit null.
            t = reduce(operator.or_, [arg for arg in get_args(t) if arg is not NoneType])
        node = self.node(t)
        default = attribute.default
        required = default is attrs.NOTHING
        shown = None
        if (
            not required
            and default is not None
            and default is not contracts.UNSET
            and not isinstance(default, attrs.Factory)  # type: ignore[arg-type]
        ):
            shown = contracts.unstructure(default)
        doc = self.docs.get((cls.__name__, attribute.name))
        return Field(name, node, required, doc, shown)

    def object(self, cls: type) -> ObjectDef:
        hints = get_type_hints(cls, include_extras=True)
        kept = contracts.CONVERTER.get_unstructure_hook(cls) is converter.unstructure_open
        fields = tuple(
            self.field(cls, a, hints[a.name])
            for a in attrs.fields(cls)
            if not (kept and a.name == _OPEN_EXTRA)
        )
        doc = cls.__dict__.get("__doc__")
        return ObjectDef(
            cls.__name__,
            fields,
            wire_doc(doc) if doc else None,
            extra="kept" if kept else "ignored" if cls in _IGNORES_EXTRA else "forbidden",
            extra_doc=self.docs.get((cls.__name__, _OPEN_EXTRA)) if kept else None,
        )

    def defs(self) -> Iterator[Def]:
        yield TIME_DEF
        for name, value in vars(contracts).items():
            if _is_alias(name, value):
                yield AliasDef(name, self.expand(value), self.docs.get(("", name)))
            elif _is_wire_class(value):
                yield self.object(value)


def _refs(node: Node) -> Iterator[str]:
    if isinstance(node, Ref):
        yield node.name
    elif isinstance(node, AnyOf):
        for member in node.members:
            yield from _refs(member)
    elif isinstance(node, ListOf | Limited):
        yield from _refs(node.item if isinstance(node, ListOf) else node.base)


def _check_refs(model: Contracts) -> None:
    names = [d.name for d in model.defs]
    if len(set(names)) != len(names):
        raise TypeError(f"codegen: a definition name is taken twice in {names}")
    nodes: list[Node] = [n for _, n in model.notifications]
    for d in model.defs:
        nodes.extend(f.node for f in d.fields) if isinstance(d, ObjectDef) else nodes.append(d.node)
    for m in model.methods:
        nodes.extend(n for n in (m.params, m.result) if n is not None)
    missing = {ref for node in nodes for ref in _refs(node)} - set(names)
    if missing:
        raise TypeError(f"codegen: no definition for {sorted(missing)}")


def read_contracts() -> Contracts:
    """The wire types, methods and notifications of idumb_daemon.contracts."""
    walker = _Walker()
    model = Contracts(
        protocol_version=contracts.PROTOCOL_VERSION,
        defs=tuple(walker.defs()),
        methods=tuple(
            MethodDef(
                name,
                None if m.params is None else walker.node(m.params),
                walker.node(m.result),
            )
            for name, m in contracts.METHODS.items()
        ),
        notifications=tuple((n, walker.node(t)) for n, t in contracts.NOTIFICATIONS.items()),
    )
    _check_refs(model)
    return model
