"""The contracts as one JSON Schema (draft 2020-12) document."""

from __future__ import annotations

import json
from typing import Any, assert_never

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

DIALECT = "https://json-schema.org/draft/2020-12/schema"

DESCRIPTION = """\
Every shape on the idumb-daemon wire, generated from the idumb_daemon.contracts package by \
`idumb-daemon contracts --format jsonschema`: do not edit. \
`$defs` holds one schema per contract type, keyed by its name. \
`x-methods` maps each request method to {"params": schema, "result": schema}; \
`params` is absent when the method takes none. \
`x-notifications` maps each notification the daemon sends to {"params": schema}. \
Their schemas refer to this document's `$defs`: to validate against one, make this \
document the root and point at it, e.g. add "$ref": "#/x-methods/settings~1get/result". \
The root schema itself accepts any value."""


def schema(node: Node) -> dict[str, Any]:
    if isinstance(node, Prim):
        return {"type": node.name}
    if isinstance(node, Lit):
        if len(node.values) == 1:
            return {"type": "string", "const": node.values[0]}
        return {"type": "string", "enum": list(node.values)}
    if isinstance(node, JsonObj):
        return {"type": "object"}
    if isinstance(node, JsonAny):
        return {}
    if isinstance(node, ListOf):
        return {"type": "array", "items": schema(node.item)}
    if isinstance(node, Ref):
        return {"$ref": f"#/$defs/{node.name}"}
    if isinstance(node, AnyOf):
        members = [schema(m) for m in node.members]
        if all(list(m) == ["type"] for m in members):
            return {"type": [m["type"] for m in members]}
        return {"anyOf": members}
    if isinstance(node, Limited):
        return {**schema(node.base), **dict(node.keywords)}
    assert_never(node)


def _described(body: dict[str, Any], doc: str | None) -> dict[str, Any]:
    if not doc:
        return body
    # A limit's own description (e.g. a byte size) is kept after the doc.
    own = body.get("description")
    return {**body, "description": f"{doc}\n{own}" if own else doc}


def _property(field: Field) -> dict[str, Any]:
    body = _described(schema(field.node), field.doc)
    if field.default is not None:
        body["default"] = field.default
    return body


def definition(d: Def) -> dict[str, Any]:
    if isinstance(d, AliasDef):
        return _described(schema(d.node), d.doc)
    body: dict[str, Any] = {"type": "object"}
    body["properties"] = {f.name: _property(f) for f in d.fields}
    required = [f.name for f in d.fields if f.required]
    if required:
        body["required"] = required
    if d.extra == "kept":
        extra_doc = f"Other fields: {d.extra_doc}" if d.extra_doc else None
        doc = "\n".join(text for text in (d.doc, extra_doc) if text)
        body["additionalProperties"] = True
    else:
        doc = d.doc or ""
        body["additionalProperties"] = d.extra == "ignored"
    return _described(body, doc or None)


def render(model: Contracts) -> str:
    document: dict[str, Any] = {
        "$schema": DIALECT,
        "title": f"idumb-daemon contracts, protocol version {model.protocol_version}",
        "description": DESCRIPTION,
        "x-protocolVersion": model.protocol_version,
        "$defs": {d.name: definition(d) for d in model.defs},
        "x-methods": {
            m.name: (
                {"result": schema(m.result)}
                if m.params is None
                else {"params": schema(m.params), "result": schema(m.result)}
            )
            for m in model.methods
        },
        "x-notifications": {name: {"params": schema(p)} for name, p in model.notifications},
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
