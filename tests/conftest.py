from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import pg
from tests.wire import Wire

DaemonFactory = Callable[..., Wire]

# Every test module's tier, by module name: `pytest -m unit` is the fast tier,
# the whole suite is what CI runs. A module missing here fails collection, so a
# new file cannot fall outside every tier unnoticed.
TIERS: dict[str, str] = {
    # The layers under the protocol, no daemon serving stdio (a few tests run
    # the migration command or a racing process): the fast tier.
    "test_architecture": "unit",
    "test_checkpoints": "unit",
    "test_declarations_quick_check": "unit",
    "test_contracts": "unit",
    "test_framing": "unit",
    "test_methods": "unit",
    "test_pygls_seam": "unit",
    "test_migrations": "unit",
    "test_storage": "unit",
    "test_storage_declarations": "unit",
    "test_storage_sql": "unit",
    "test_watch_feed": "unit",
    "test_watch_poller": "unit",
    "test_worker": "unit",
    "test_writelock": "unit",
    # The daemon (or its CLI, or its client) as a subprocess over stdio.
    "test_cli": "e2e",
    "test_cancel_watch_e2e": "e2e",
    "test_lsp_host": "e2e",
    "test_client": "e2e",
    "test_postgres": "e2e",
    "test_postgres_driver_missing": "e2e",
    "test_hardening_transport": "e2e",
    "test_hardening_rows": "e2e",
    "test_protocol_errors": "e2e",
    "test_protocol_jsonrpc": "e2e",
    "test_protocol_lifecycle": "e2e",
    "test_protocol_methods": "e2e",
    "test_null_and_times_e2e": "e2e",
    "test_pygls_client_e2e": "e2e",
    "test_settings_model": "e2e",
    "test_smoke_e2e": "e2e",
    "test_watch_e2e": "e2e",
    "test_revisions_e2e": "e2e",
    "test_speed_paths": "e2e",
    "test_watch_foreign_rows": "e2e",
    "test_watch_postgres": "e2e",
    "test_watch_postgres_overlap": "e2e",
    # Crashes, faults, fuzzing, concurrent writers, memory over time.
    "test_memory": "reliability",
    "test_fuzz_transport": "reliability",
    "test_reliability_crashes": "reliability",
    "test_reliability_faults": "reliability",
    "test_reliability_fuzz": "reliability",
    "test_reliability_recovery": "reliability",
    "test_reliability_security": "reliability",
    "test_reliability_writers": "reliability",
    # The project's own tools: codegen, the benchmark, packaging, this table.
    "test_bench": "tooling",
    "test_codegen": "tooling",
    "test_bundle": "tooling",
    "test_client_codegen": "tooling",
    "test_drizzle_export": "tooling",
    "test_methods_doc": "tooling",
    "test_tiers": "tooling",
    "test_wheel_install": "tooling",
}
# Fixtures that put a test on the session's PostgreSQL server.
_POSTGRES_FIXTURES = frozenset({"pg_cluster", "pg_url"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unlisted: set[str] = set()
    for item in items:
        module = item.path.stem
        tier = TIERS.get(module)
        if tier is None:
            unlisted.add(module)
            continue
        item.add_marker(tier)
        if _on_postgres(item):
            item.add_marker("postgres")
    if unlisted:
        raise pytest.UsageError(
            f"test modules in no tier: {', '.join(sorted(unlisted))}; "
            "add each to TIERS in tests/conftest.py"
        )


def _on_postgres(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "postgresql" in (
        callspec.params.get("database_url"),
        callspec.params.get("module_database_url"),
    ):
        return True
    return not _POSTGRES_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "idumb.db"


@pytest.fixture
def spawn(db_path: Path) -> Iterator[DaemonFactory]:
    """Start daemons as subprocesses (default: on `db_path`); all are killed at the end."""
    started: list[Wire] = []

    def start(*args: str, db: Path | None = None, **kw: object) -> Wire:
        argv = (
            list(args)
            if any(a in args for a in ("--db", "--database-url"))
            else ["--db", str(db or db_path), *args]
        )
        wire = Wire(argv, **kw)  # type: ignore[arg-type]
        started.append(wire)
        return wire

    yield start
    for wire in started:
        wire.kill()


@pytest.fixture
def daemon(spawn: DaemonFactory) -> Wire:
    return spawn()


# --- PostgreSQL ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[pg.Cluster]:
    """The session's throwaway PostgreSQL server. Without one installed the
    PostgreSQL tests skip, but never on CI (CI=true): there it is a failure."""
    try:
        cluster = pg.Cluster()
    except pg.ServerMissing as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {exc}; .ci/run installs it", pytrace=False)
        pytest.skip(str(exc))
    try:
        cluster.init()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def pg_url(pg_cluster: pg.Cluster) -> Iterator[str]:
    """A fresh, empty database of its own on the session's server."""
    pg_cluster.ensure_running()  # a test that stopped it may have failed midway
    name = pg_cluster.create_database()
    yield pg_cluster.url(name)
    pg_cluster.drop_database(name)


BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, db_path: Path) -> str:
    """A fresh database on each backend in turn: a SQLite file in tmp_path,
    then a database of its own on the session's PostgreSQL server."""
    if request.param == "sqlite":
        return "sqlite:///" + str(db_path)
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture(scope="module", params=BACKENDS)
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database for a module's shared daemon, on each backend in turn."""
    if request.param == "sqlite":
        yield "sqlite:///" + str(tmp_path_factory.mktemp("shared") / "idumb.db")
        return
    cluster: pg.Cluster = request.getfixturevalue("pg_cluster")
    cluster.ensure_running()
    name = cluster.create_database()
    yield cluster.url(name)
    cluster.drop_database(name)


@pytest.fixture(scope="module")
def shared(module_database_url: str) -> Iterator[Wire]:
    """One daemon for a whole module, on `module_database_url`: tests that use
    it keep to keys of their own; it must still exit cleanly at the end."""
    wire = Wire(["--database-url", module_database_url])
    yield wire
    assert wire.stop() == 0


@pytest.fixture
def spawn_any(spawn: DaemonFactory, database_url: str) -> DaemonFactory:
    """Start daemons on `database_url`: the test runs on each backend in turn."""

    def start(*args: str, **kw: object) -> Wire:
        return spawn("--database-url", database_url, *args, **kw)

    return start
