"""What several subcommands share: where the database is."""

from __future__ import annotations

import argparse


def database_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("database")
    group.add_argument("--project-dir", help="project folder (default: the working directory)")
    group.add_argument("--db", help="SQLite file (relative to the working directory)")
    group.add_argument(
        "--database-url",
        help="any SQLAlchemy URL: sqlite:///... or postgresql://... "
        "(default: $IDUMB_DATABASE_URL, else <project dir>/.idumb/data/idumb.db)",
    )
    group.add_argument(
        "--busy-timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how long a write waits for the database lock (default 5)",
    )


def storage_url(args: argparse.Namespace) -> str:
    from idumb_daemon.storage.database import resolve_url

    return resolve_url(project_dir=args.project_dir, db=args.db, database_url=args.database_url)
