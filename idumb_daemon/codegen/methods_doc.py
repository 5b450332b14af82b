"""The method table of docs/protocol.md, generated from the contracts' method
table, so the reference can never list a method the daemon lacks or miss one
it has. The table sits between two marker comments; prose around it is the
document's own."""

from __future__ import annotations

from idumb_daemon.codegen.model import Contracts, Node, ObjectDef, Ref
from idumb_daemon.codegen.typescript import ts

BEGIN = "<!-- methods:begin -->"
END = "<!-- methods:end -->"


def _params(node: Node | None, objects: dict[str, ObjectDef]) -> str:
    if node is None:
        return "none"
    if isinstance(node, Ref) and node.name in objects:
        fields = objects[node.name].fields
        return "`{" + ", ".join(f.name + ("" if f.required else "?") for f in fields) + "}`"
    return f"`{ts(node)}`"


def render(model: Contracts) -> str:
    """The table, markers included, with a line break at the end."""
    objects = {d.name: d for d in model.defs if isinstance(d, ObjectDef)}
    rows = [
        f"| `{m.name}` | {_params(m.params, objects)} | `{ts(m.result)}` |".replace(
            " | null", r" \| null"
        )
        for m in model.methods
    ]
    return "\n".join([BEGIN, "| method | params | result |", "|---|---|---|", *rows, END]) + "\n"


def splice(document: str, table: str) -> str:
    """`document` with the text between its markers replaced by `table`.
    Raises ValueError when the markers are missing or out of order."""
    start = document.find(BEGIN)
    end = document.find(END, start)
    if start < 0 or end < 0:
        raise ValueError(f"no {BEGIN} ... {END} region")
    return document[:start] + table + document[end + len(END) :].removeprefix("\n")
