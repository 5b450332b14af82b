"""Command line: `idumb-daemon [serve]`, `call`, `settings ...`, `migrate`,
`schema ...`, `contracts`.

Options follow the subcommand; a bare `idumb-daemon` means `serve`. One
argparse tree: each module here declares its subcommands (`add_parsers`) and
the function each runs, which `main` calls.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from idumb_daemon import __version__
from idumb_daemon.cli import bundle, contracts, schema, serve, settings

COMMANDS = (serve, settings, schema, contracts, bundle)


def build_parser() -> argparse.ArgumentParser:
    return _tree()[0]


def _tree() -> tuple[argparse.ArgumentParser, list[str]]:
    """The parser, and the names of its subcommands."""
    parser = argparse.ArgumentParser(
        prog="idumb-daemon",
        description="The idumb persistence daemon and its commands. Options follow the "
        "subcommand; a bare idumb-daemon means serve.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    # The subcommands' --schema-dir leaves this default alone when not given.
    parser.set_defaults(schema_dir=None)
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parsers(sub)
    return parser, list(sub.choices)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser, subcommands = _tree()
    if not args_list or args_list[0] not in (*subcommands, "-h", "--help", "--version"):
        args_list.insert(0, "serve")
    args = parser.parse_args(args_list)
    code: int = args.run(args)
    return code
