from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.wire import Wire

DaemonFactory = Callable[..., Wire]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "idumb.db"


@pytest.fixture
def spawn(db_path: Path) -> Iterator[DaemonFactory]:
    """Start daemons as subprocesses (default: on `db_path`); all are killed at the end."""
    started: list[Wire] = []

    def start(*args: str, db: Path | None = None, **kw: object) -> Wire:
        argv = list(args) if any(a in args for a in ("--db", "--database-url")) else [
            "--db", str(db or db_path), *args
        ]
        wire = Wire(argv, **kw)  # type: ignore[arg-type]
        started.append(wire)
        return wire

    yield start
    for wire in started:
        wire.kill()


@pytest.fixture
def daemon(spawn: DaemonFactory) -> Wire:
    return spawn()
