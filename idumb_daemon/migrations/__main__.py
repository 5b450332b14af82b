"""`python -m idumb_daemon.migrations`: the schema and migrate subcommands
without the rest of the CLI, e.g. for a machine without the daemon's
protocol dependencies in use."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from idumb_daemon.migrations.commands import migrate_command, schema_check, schema_generate
from idumb_daemon.storage.database import resolve_url


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m idumb_daemon.migrations")
    parser.add_argument("--schema-dir", type=Path, help="schema/ folder to use instead of ours")
    commands = parser.add_subparsers(dest="command", required=True)

    schema = commands.add_parser("schema").add_subparsers(dest="action", required=True)
    gen = schema.add_parser("generate", help="write the next migration")
    gen.add_argument("name")
    gen.add_argument("--custom", action="store_true", help="an empty sql migration to fill in")
    schema.add_parser("check", help="fail when schema.json differs from the last migration")

    mig = commands.add_parser("migrate", help="apply pending migrations")
    mig.add_argument("--dry-run", action="store_true", help="list them; change nothing")
    mig.add_argument("--project-dir")
    mig.add_argument("--db")
    mig.add_argument("--database-url")

    args = parser.parse_args(argv)
    if args.command == "migrate":
        url = resolve_url(project_dir=args.project_dir, db=args.db, database_url=args.database_url)
        return migrate_command(url, args.dry_run, args.schema_dir)
    if args.action == "generate":
        return schema_generate(args.name, args.schema_dir, custom=args.custom)
    return schema_check(args.schema_dir)


if __name__ == "__main__":
    raise SystemExit(main())
