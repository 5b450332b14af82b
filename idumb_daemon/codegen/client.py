"""The TypeScript client's generated module (clients/typescript/src/generated.ts).

It holds the wire types (the declarations of idumb.d.ts) and one typed call per
method, grouped by the part of its name before the slash, so the package's
`IdumbClient` gets `client.settings.get(...)` for every method of the table and a
method added to the contracts cannot be missing from the client: `contracts --check`
fails until this file is regenerated.
"""

from __future__ import annotations

import json
from pathlib import Path

from idumb_daemon.codegen import typescript
from idumb_daemon.codegen.model import Contracts, MethodDef, ObjectDef, Ref

PATH = Path("clients/typescript/src/generated.ts")
"""Where the file lives in a checkout, from the repository root."""

HEADER = """\
/**
 * The idumb-daemon wire types and one typed call per method, protocol version {version}.
 *
 * Generated from idumb_daemon/contracts by
 * `idumb-daemon contracts --format client --output clients/typescript/src/generated.ts`:
 * do not edit. Limits (lengths, ranges) are not types: see contracts/idumb.schema.json.
 */
"""


def _optional(model: Contracts, method: MethodDef) -> bool:
    """Params every field of which may be omitted: the call may leave them out."""
    if not isinstance(method.params, Ref):
        return False
    found = [d for d in model.defs if d.name == method.params.name]
    return (
        bool(found)
        and isinstance(found[0], ObjectDef)
        and not any(f.required for f in found[0].fields)
    )


def _groups(model: Contracts) -> dict[str, list[tuple[str, MethodDef]]]:
    groups: dict[str, list[tuple[str, MethodDef]]] = {}
    for method in model.methods:
        # initialize and shutdown belong to the client's own lifecycle.
        if "/" in method.name:
            group, call = method.name.split("/", 1)
            groups.setdefault(group, []).append((call, method))
    return groups


def _signature(model: Contracts, call: str, method: MethodDef) -> str:
    result = typescript.ts(method.result)
    if method.params is None:
        params = ""
    else:
        mark = "?" if _optional(model, method) else ""
        params = f"params{mark}: {typescript.ts(method.params)}, "
    return (
        f"    /** `{method.name}` */\n"
        f"    {call}({params}signal?: AbortSignal): Promise<{result}>;\n"
    )


def _implementation(model: Contracts, call: str, method: MethodDef) -> str:
    name = json.dumps(method.name)
    if method.params is None:
        return f"      {call}: (signal) => send({name}, undefined, signal),\n"
    params = "params = {}" if _optional(model, method) else "params"
    return f"      {call}: ({params}, signal) => send({name}, params, signal),\n"


def render(model: Contracts) -> str:
    groups = _groups(model)
    interface = "".join(
        f"  {group}: {{\n{''.join(_signature(model, c, m) for c, m in calls)}  }};\n"
        for group, calls in groups.items()
    )
    factory = "".join(
        f"    {group}: {{\n{''.join(_implementation(model, c, m) for c, m in calls)}    }},\n"
        for group, calls in groups.items()
    )
    methods = "".join(f"  {json.dumps(m.name)},\n" for m in model.methods)
    notifications = "".join(f"  {json.dumps(n)},\n" for n, _ in model.notifications)
    parts = [
        HEADER.format(version=model.protocol_version),
        f"export const PROTOCOL_VERSION = {model.protocol_version};\n"
        f"export type ProtocolVersion = {model.protocol_version};\n",
        *(typescript.declaration(d) for d in model.defs),
        typescript.method_map(model),
        f"/** Every request method of the table, in its order. */\n"
        f"export const METHODS: readonly IdumbMethod[] = [\n{methods}];\n",
        f"/** Every notification the daemon sends. */\n"
        f"export const NOTIFICATIONS: readonly IdumbNotification[] = [\n{notifications}];\n",
        "/** Sends one request: the client's own `request`. */\n"
        "export type Send = <M extends IdumbMethod>(\n"
        "  method: M,\n"
        "  params: IdumbParams<M>,\n"
        "  signal?: AbortSignal,\n"
        ") => Promise<IdumbResult<M>>;\n",
        "/** One typed call per method, grouped by the part of its name before the slash. */\n"
        f"export interface IdumbMethodGroups {{\n{interface}}}\n",
        f"export function methodGroups(send: Send): IdumbMethodGroups {{\n"
        f"  return {{\n{factory}  }};\n}}\n",
    ]
    return "\n".join(parts)
