"""`idumb-daemon migrate` and `idumb-daemon schema generate|check`; also
`python -m idumb_daemon.migrations`, these commands by themselves."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from idumb_daemon.cli.common import database_options, storage_url


def add_parsers(sub: Any) -> None:
    migrate = sub.add_parser("migrate", help="apply pending schema migrations")
    database_options(migrate)
    migrate.add_argument("--dry-run", action="store_true", help="list them, change nothing")
    _schema_dir_option(migrate)
    migrate.set_defaults(run=run_migrate)

    schema = sub.add_parser("schema", help="the declared schema and its migrations")
    actions = schema.add_subparsers(dest="schema_command", required=True)
    generate = actions.add_parser("generate", help="write the next migration")
    generate.add_argument("name")
    generate.add_argument(
        "--custom", action="store_true", help="an empty migration for hand-written SQL"
    )
    _schema_dir_option(generate)
    generate.set_defaults(run=run_generate)
    check = actions.add_parser("check", help="fail when schema and migrations differ")
    _schema_dir_option(check)
    check.set_defaults(run=run_check)
    export = actions.add_parser("export", help="print the product's tables in another language")
    export.add_argument(
        "--format", required=True, choices=["drizzle"], help="drizzle: a drizzle-orm schema.ts"
    )
    _schema_dir_option(export)
    export.set_defaults(run=run_export)


def _schema_dir_option(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: not given here, a --schema-dir before the subcommand stands.
    parser.add_argument(
        "--schema-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help="schema/ folder to use instead of the package's",
    )


def run_migrate(args: argparse.Namespace) -> int:
    from idumb_daemon.migrations import commands

    return commands.migrate_command(storage_url(args), args.dry_run, args.schema_dir)


def run_generate(args: argparse.Namespace) -> int:
    from idumb_daemon.migrations import commands

    return commands.schema_generate(args.name, args.schema_dir, custom=args.custom)


def run_check(args: argparse.Namespace) -> int:
    from idumb_daemon.migrations import commands

    return commands.schema_check(args.schema_dir)


def run_export(args: argparse.Namespace) -> int:
    import sys

    from idumb_daemon.migrations import drizzle, files

    text = drizzle.render(files.load_declared(files.schema_source(args.schema_dir)))
    sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.flush()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m idumb_daemon.migrations [--schema-dir DIR] migrate|schema ...`"""
    parser = argparse.ArgumentParser(prog="python -m idumb_daemon.migrations")
    parser.add_argument(
        "--schema-dir", type=Path, help="schema/ folder to use instead of the package's"
    )
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.run(args)
    return code
