"""`idumb-daemon contracts`: the generated contract files (see codegen.command)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parsers(sub: Any) -> None:
    contracts = sub.add_parser(
        "contracts", help="JSON Schema or TypeScript declarations of the wire types"
    )
    contracts.add_argument(
        "--format",
        choices=["jsonschema", "typescript", "client"],
        help="client: the TypeScript client's generated.ts (clients/typescript/src/)",
    )
    contracts.add_argument("--output", type=Path, help="write here instead of stdout")
    contracts.add_argument(
        "dir", nargs="?", type=Path, help="with --check: the contracts folder (default ./contracts)"
    )
    contracts.add_argument(
        "--check",
        action="store_true",
        help="fail when the files in DIR (and the method table of DIR/../docs/protocol.md, "
        "where there is one) are out of date",
    )
    contracts.add_argument(
        "--docs", type=Path, metavar="FILE", help="rewrite the method table in this markdown file"
    )
    contracts.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from idumb_daemon.codegen import command

    return command.run(args)
