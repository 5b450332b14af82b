"""Command line: `idumb-daemon [serve]`, `call`, `settings ...`, `migrate`, `schema ...`.

Options follow the subcommand; a bare `idumb-daemon` means `serve`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from idumb_daemon import __version__

log = logging.getLogger("idumb_daemon")

SUBCOMMANDS = ("serve", "call", "settings", "migrate", "schema", "contracts")


def _database_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("database")
    group.add_argument("--project-dir", help="project folder (default: the working directory)")
    group.add_argument("--db", help="SQLite file (relative to the working directory)")
    group.add_argument(
        "--database-url",
        help="any SQLAlchemy URL: sqlite:///... or postgresql://... "
        "(default: $IDUMB_DATABASE_URL, else <project dir>/.idumb/data/idumb.db)",
    )
    group.add_argument(
        "--busy-timeout", type=float, default=5.0, metavar="SECONDS",
        help="how long a write waits for the database lock (default 5)",
    )


def _logging_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-level", default="warning",
                        choices=["debug", "info", "warning", "error"])
    parser.add_argument("--log-file", help="log here instead of stderr")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="idumb-daemon", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve JSON-RPC 2.0 on stdin/stdout (the default)")
    _database_options(serve)
    _logging_options(serve)

    migrate = sub.add_parser("migrate", help="apply pending schema migrations")
    _database_options(migrate)
    migrate.add_argument("--dry-run", action="store_true", help="list them, change nothing")

    schema = sub.add_parser("schema", help="the declared schema and its migrations")
    schema_sub = schema.add_subparsers(dest="schema_command", required=True)
    generate = schema_sub.add_parser("generate", help="write the next migration")
    generate.add_argument("name")
    generate.add_argument(
        "--custom", action="store_true", help="an empty migration for hand-written SQL"
    )
    generate.add_argument("--schema-dir", type=Path)
    check = schema_sub.add_parser("check", help="fail when schema and migrations differ")
    check.add_argument("--schema-dir", type=Path)

    contracts = sub.add_parser(
        "contracts", help="JSON Schema or TypeScript declarations of the wire types"
    )
    contracts.add_argument("--format", choices=["jsonschema", "typescript"])
    contracts.add_argument("--output", type=Path, help="write here instead of stdout")
    contracts.add_argument(
        "dir", nargs="?", type=Path, help="with --check: the contracts folder (default ./contracts)"
    )
    contracts.add_argument(
        "--check", action="store_true", help="fail when the files in DIR are out of date"
    )

    from idumb_daemon import shell

    shell.add_parsers(sub, _database_options)
    return parser


def configure_logging(level: str, log_file: str | None) -> None:
    handler: logging.Handler = (
        logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # pygls logs message bodies (stored values, tokens) at INFO: keep it quiet
    # unless the user asks for debug output.
    if level != "debug":
        logging.getLogger("pygls").setLevel(logging.WARNING)


def storage_url(args: argparse.Namespace) -> str:
    from idumb_daemon.storage.database import resolve_url

    return resolve_url(project_dir=args.project_dir, db=args.db, database_url=args.database_url)


def serve(args: argparse.Namespace) -> int:
    # The protocol owns the real stdout; fd 1 becomes stderr, so a stray print
    # in any library can never corrupt the stream.
    protocol_out = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    configure_logging(args.log_level, args.log_file)

    from idumb_daemon.protocol.server import open_storage
    from idumb_daemon.protocol.server import serve as serve_stdio

    storage = open_storage(storage_url(args), busy_timeout=args.busy_timeout)
    return serve_stdio(storage, sys.stdin.fileno(), protocol_out)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or args_list[0] not in (*SUBCOMMANDS, "-h", "--help", "--version"):
        args_list.insert(0, "serve")
    args = build_parser().parse_args(args_list)
    if args.command == "serve":
        return serve(args)
    if args.command == "migrate":
        from idumb_daemon.migrations import commands

        return commands.migrate_command(storage_url(args), args.dry_run)
    if args.command == "schema":
        from idumb_daemon.migrations import commands

        if args.schema_command == "generate":
            return commands.schema_generate(args.name, args.schema_dir, custom=args.custom)
        return commands.schema_check(args.schema_dir)
    if args.command == "contracts":
        from idumb_daemon.codegen import command

        return command.run(args)
    from idumb_daemon import shell

    return shell.run(args)
