"""The contracts as TypeScript declarations (a `.d.ts` with no imports)."""

from __future__ import annotations

import json
import re
from typing import assert_never

from idumb_daemon.codegen.model import (
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
    Node,
    Prim,
    Ref,
)

HEADER = """\
/**
 * Every shape on the idumb-daemon wire, protocol version {version}.
 *
 * Generated from the idumb_daemon.contracts package by
 * `idumb-daemon contracts --format typescript`: do not edit.
 * `IdumbRequests` maps each request method to its params and result;
 * `IdumbNotifications` maps each notification the daemon sends to its params.
 * Limits (lengths, ranges) are not types: see idumb.schema.json.
 */
"""

_PRIM = {
    "string": "string",
    "integer": "number",
    "number": "number",
    "boolean": "boolean",
    "null": "null",
}
_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


def ts(node: Node) -> str:
    if isinstance(node, Prim):
        return _PRIM[node.name]
    if isinstance(node, Lit):
        return " | ".join(json.dumps(v) for v in node.values)
    if isinstance(node, JsonObj):
        return "{ [key: string]: unknown }"
    if isinstance(node, JsonAny):
        return "unknown"
    if isinstance(node, ListOf):
        item = ts(node.item)
        return f"({item})[]" if " | " in item else f"{item}[]"
    if isinstance(node, Ref):
        return node.name
    if isinstance(node, AnyOf):
        return " | ".join(ts(m) for m in node.members)
    if isinstance(node, Limited):
        return ts(node.base)
    assert_never(node)


def _notes(node: Node) -> list[str]:
    """The prose a limit carries (a byte size, "no key twice"), for a doc comment."""
    members = node.members if isinstance(node, AnyOf) else (node,)
    return [
        str(value)
        for m in members
        if isinstance(m, Limited)
        for key, value in m.keywords
        if key == "description"
    ]


def doc_comment(lines: list[str], indent: str = "") -> str:
    text = "\n".join(line for line in lines if line).replace("*/", "*\\/")
    if not text:
        return ""
    rows = text.splitlines()
    if len(rows) == 1:
        return f"{indent}/** {rows[0]} */\n"
    body = "".join(f"{indent} *{' ' + row if row else ''}\n" for row in rows)
    return f"{indent}/**\n{body}{indent} */\n"


def _name(name: str) -> str:
    return name if _IDENTIFIER.fullmatch(name) else json.dumps(name)


def _property(field: Field) -> str:
    default = [] if field.default is None else [f"@defaultValue {json.dumps(field.default)}"]
    comment = doc_comment([field.doc or "", *_notes(field.node), *default], "  ")
    optional = "" if field.required else "?"
    return f"{comment}  {_name(field.name)}{optional}: {ts(field.node)};\n"


def declaration(d: Def) -> str:
    if isinstance(d, AliasDef):
        comment = doc_comment([d.doc or "", *_notes(d.node)])
        return f"{comment}export type {d.name} = {ts(d.node)};\n"
    comment = doc_comment([d.doc or ""])
    if not d.fields and d.extra == "forbidden":
        # `{}` would admit any value but null; this admits only an empty object.
        return f"{comment}export type {d.name} = Record<string, never>;\n"
    members = "".join(_property(f) for f in d.fields)
    if d.extra != "forbidden":
        extra_doc = d.extra_doc if d.extra == "kept" else "Accepted and ignored by the daemon."
        members += doc_comment([extra_doc or ""], "  ") + "  [field: string]: unknown;\n"
    return f"{comment}export interface {d.name} {{\n{members}}}\n"


def method_map(model: Contracts) -> str:
    rows = "".join(
        f"  {json.dumps(m.name)}: {{ params: {'void' if m.params is None else ts(m.params)}; "
        f"result: {ts(m.result)} }};\n"
        for m in model.methods
    )
    notes = "".join(f"  {json.dumps(name)}: {ts(p)};\n" for name, p in model.notifications)
    return (
        doc_comment(["Each request method with its params (`void`: none) and result."])
        + f"export interface IdumbRequests {{\n{rows}}}\n\n"
        + doc_comment(["Each notification the daemon sends (while watching) with its params."])
        + f"export interface IdumbNotifications {{\n{notes}}}\n\n"
        + "export type IdumbMethod = keyof IdumbRequests;\n"
        + 'export type IdumbParams<M extends IdumbMethod> = IdumbRequests[M]["params"];\n'
        + 'export type IdumbResult<M extends IdumbMethod> = IdumbRequests[M]["result"];\n'
        + "export type IdumbNotification = keyof IdumbNotifications;\n"
    )


def render(model: Contracts) -> str:
    parts = [
        HEADER.format(version=model.protocol_version),
        f"export type ProtocolVersion = {model.protocol_version};\n",
        *(declaration(d) for d in model.defs),
        method_map(model),
    ]
    return "\n".join(parts)
