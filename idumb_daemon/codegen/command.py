"""`idumb-daemon contracts`: print, write or check the generated contract files.

The files are committed in contracts/ at the root of the source tree, so an editor
extension can take its types from there; `--check [DIR]` (run by CI, in the
repository: DIR defaults to ./contracts) fails once they no longer match the
contract classes. It reads nothing beside the installed package, so it works
from a wheel as from a checkout.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Callable
from pathlib import Path

from idumb_daemon.codegen import client, jsonschema, methods_doc, typescript
from idumb_daemon.codegen.model import Contracts
from idumb_daemon.codegen.walk import read_contracts

FORMATS: dict[str, tuple[Callable[[Contracts], str], str]] = {
    "jsonschema": (jsonschema.render, "idumb.schema.json"),
    "typescript": (typescript.render, "idumb.d.ts"),
}
"""Format name: its renderer and its file in contracts/."""

CLIENT = "client"
"""The TypeScript client's generated module: not in contracts/ but at
`client.PATH` of a checkout, which a bare `--check` also checks when run where
the client package is (the repository's root)."""

_DIFF_LINES = 40


def generate(fmt: str, model: Contracts | None = None) -> str:
    render = client.render if fmt == CLIENT else FORMATS[fmt][0]
    return render(model or read_contracts())


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _check_docs(path: Path, model: Contracts) -> bool:
    """Whether the method table in `path` is the one the contracts make."""
    text = path.read_text(encoding="utf-8")
    try:
        fresh = methods_doc.splice(text, methods_doc.render(model)) == text
    except ValueError as exc:
        print(f"idumb-daemon: {_shown(path)}: {exc}", file=sys.stderr)
        return False
    if fresh:
        print(f"{_shown(path)} (method table) is up to date")
    else:
        print(
            f"idumb-daemon: the method table in {_shown(path)} is out of date; "
            f"run `idumb-daemon contracts --docs {_shown(path)}` and commit it",
            file=sys.stderr,
        )
    return fresh


def check(targets: list[tuple[str, Path]], docs: Path | None = None) -> int:
    model = read_contracts()
    stale = 0 if docs is None or _check_docs(docs, model) else 1
    for fmt, path in targets:
        expected = generate(fmt, model)
        fix = f"run `idumb-daemon contracts --format {fmt} --output {_shown(path)}` and commit it"
        try:
            actual = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            stale += 1
            print(f"idumb-daemon: {_shown(path)} is missing; {fix}", file=sys.stderr)
            continue
        if actual == expected:
            print(f"{_shown(path)} is up to date")
            continue
        stale += 1
        diff = list(
            difflib.unified_diff(
                actual.splitlines(keepends=True),
                expected.splitlines(keepends=True),
                f"{_shown(path)} (committed)",
                f"{_shown(path)} (from the contracts)",
            )
        )
        shown = "".join(diff[:_DIFF_LINES])
        more = f"... {len(diff) - _DIFF_LINES} more diff lines\n" if len(diff) > _DIFF_LINES else ""
        print(
            f"idumb-daemon: {_shown(path)} is out of date; {fix}\n{shown}{more}",
            file=sys.stderr,
            end="",
        )
    return 1 if stale else 0


def run(args: argparse.Namespace) -> int:
    output: Path | None = args.output
    if args.check:
        if args.format == CLIENT:
            return check([(CLIENT, output or client.PATH)])
        formats = [args.format] if args.format else list(FORMATS)
        if output is not None and len(formats) != 1:
            print("idumb-daemon: --check --output needs --format", file=sys.stderr)
            return 2
        folder: Path = args.dir or Path("contracts")
        docs = folder.parent / "docs" / "protocol.md"
        targets = [(f, output or folder / FORMATS[f][1]) for f in formats]
        if args.format is None and args.dir is None and client.PATH.parent.parent.is_dir():
            targets.append((CLIENT, client.PATH))
        return check(targets, docs if docs.is_file() else None)
    if args.docs is not None:
        text = args.docs.read_text(encoding="utf-8")
        table = methods_doc.render(read_contracts())
        args.docs.write_text(methods_doc.splice(text, table), encoding="utf-8", newline="\n")
        return 0
    if args.dir is not None:
        print("idumb-daemon: a contracts folder is only read by --check", file=sys.stderr)
        return 2
    if args.format is None:
        print("idumb-daemon: contracts needs --format (or --check)", file=sys.stderr)
        return 2
    text = generate(args.format)
    if output is None:
        sys.stdout.buffer.write(text.encode("utf-8"))
        sys.stdout.flush()
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8", newline="\n")
    return 0
