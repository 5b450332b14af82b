"""What only PostgreSQL has: a driver chosen from the URL, passwords, a server
that goes away and comes back, sessions ended under the daemon, other sessions'
locks, and notifications through LISTEN/NOTIFY.

Everything runs on the session's throwaway cluster (tests/pg.py); the tests
that stop it start it again before they end.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.engine import make_url

from idumb_daemon.protocol.server import open_storage
from idumb_daemon.storage import settings
from idumb_daemon.storage.database import (
    connect_postgres,
    engine_url,
    postgres_connect_args,
    resolve_url,
    safe_url,
)
from idumb_daemon.storage.errors import StorageBusy
from tests import pg
from tests.conftest import DaemonFactory
from tests.test_watch_e2e import BOUND, next_changes, watcher
from tests.wire import Wire

UNAVAILABLE = {"reason": "unavailable"}


def dbname(url: str) -> str:
    name = make_url(url).database
    assert name
    return name


# --- URLs, no server needed --------------------------------------------------------


def test_postgresql_urls_use_psycopg_3_and_an_explicit_driver_is_kept() -> None:
    url = "postgresql://u:pw@db.example/team?sslmode=require"
    assert engine_url(url).drivername == "postgresql+psycopg"
    assert engine_url(url).render_as_string(hide_password=False) == (
        "postgresql+psycopg://u:pw@db.example/team?sslmode=require"
    )
    assert engine_url("postgresql+psycopg2://u@h/d").drivername == "postgresql+psycopg2"
    assert engine_url("sqlite:////tmp/x.db").drivername == "sqlite"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://alice:pw%40x@db/team", "postgresql://alice:***@db/team"),
        (
            "postgresql://alice@db/team?password=pw&sslmode=require",
            "postgresql://alice@db/team?password=***&sslmode=require",
        ),
        ("postgresql://alice@db/team?PASSWORD=pw", "postgresql://alice@db/team?PASSWORD=***"),
        ("postgresql://alice@db/team?sslpassword=pw", "postgresql://alice@db/team?sslpassword=***"),
        ("postgresql://alice@db:5433/team", "postgresql://alice@db:5433/team"),
        ("sqlite:////home/u/.idumb/data/idumb.db", "sqlite:////home/u/.idumb/data/idumb.db"),
    ],
)
def test_safe_url_shows_the_users_url_without_its_password(url: str, shown: str) -> None:
    assert safe_url(url) == shown


def test_connect_settings_bound_the_wait_and_the_url_wins() -> None:
    keepalives = {
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
        "tcp_user_timeout": 60_000,
    }
    plain = postgres_connect_args(make_url("postgresql://h/d"), 2.5)
    assert plain == {"connect_timeout": 5, "options": "-c lock_timeout=2500", **keepalives}
    given = postgres_connect_args(
        make_url(
            "postgresql://h/d?connect_timeout=1&keepalives_idle=5&options=-c%20lock_timeout%3D9"
        ),
        0,
    )
    # Ours first: the URL's later -c lock_timeout overrides it; 0 never means "no limit".
    assert given == {
        "options": "-c lock_timeout=1 -c lock_timeout=9",
        **{k: v for k, v in keepalives.items() if k != "keepalives_idle"},
    }


def test_the_postgres_scheme_means_postgresql() -> None:
    assert resolve_url(database_url="postgres://u@h/d") == "postgresql://u@h/d"
    assert resolve_url(environ={"IDUMB_DATABASE_URL": "postgres://h/d"}) == "postgresql://h/d"
    assert resolve_url(database_url="postgresql+psycopg://h/d") == "postgresql+psycopg://h/d"


def test_a_postgres_scheme_url_is_served_with_keepalives_on_its_sessions(
    spawn: DaemonFactory, pg_url: str
) -> None:
    daemon = spawn("--database-url", "postgres://" + pg_url.removeprefix("postgresql://"))
    daemon.result("settings/set", {"key": "k", "value": "v"})
    assert daemon.result("settings/get", {"key": "k"})["value"] == "v"
    assert daemon.result("daemon/status", {})["backend"] == "postgresql"
    assert daemon.stop() == 0
    with connect_postgres(pg_url) as conn:  # read as the engine reads it
        dsn = conn.info.dsn
    assert "keepalives=1" in dsn and "keepalives_idle=30" in dsn, dsn


# --- passwords ----------------------------------------------------------------------


@pytest.fixture
def pw_db(pg_cluster: pg.Cluster) -> Iterator[str]:
    """A database owned by the role that must log in with a password."""
    pg_cluster.ensure_running()
    name = pg_cluster.create_database(owner=pg.PASSWORD_USER)
    yield name
    pg_cluster.drop_database(name)


def test_a_password_is_used_but_never_shown(
    spawn: DaemonFactory, pg_cluster: pg.Cluster, pw_db: str
) -> None:
    url = pg_cluster.url(pw_db, user=pg.PASSWORD_USER, password=pg.PASSWORD)
    daemon = spawn("--database-url", url, "--log-level", "debug")
    assert daemon.result("settings/set", {"key": "k", "value": "v"})["value"] == "v"
    status = daemon.result("daemon/status")
    assert status["backend"] == "postgresql"
    assert pg.PASSWORD not in status["database"] and pg.PASSWORD_USER in status["database"]
    assert status["database"].startswith(f"postgresql://{pg.PASSWORD_USER}:***@/{pw_db}?")

    wrong = "wrong-" + pg.PASSWORD
    refused = spawn("--database-url", pg_cluster.url(pw_db, user=pg.PASSWORD_USER, password=wrong))
    error = refused.error("settings/get", {"key": "k"})
    assert (error["code"], error["data"]) == (-31006, UNAVAILABLE)
    assert "password authentication failed" in error["message"]
    assert wrong not in error["message"]
    assert wrong not in refused.result("daemon/status")["database"]

    # As the README advises: the password outside the URL, where libpq finds it.
    from_env = spawn(
        "--database-url",
        pg_cluster.url(pw_db, user=pg.PASSWORD_USER),
        env={"PGPASSWORD": pg.PASSWORD},
    )
    assert from_env.result("settings/get", {"key": "k"})["value"] == "v"

    assert daemon.stop() == 0 and refused.stop() == 0 and from_env.stop() == 0
    assert pg.PASSWORD.encode() not in daemon.stderr and wrong.encode() not in refused.stderr


# --- the server goes away and comes back ---------------------------------------------


def notified_keys(daemon: Wire, count: int) -> list[str]:
    """The keys of the next settings changes, over as many notifications as it takes."""
    keys: list[str] = []
    while len(keys) < count:
        keys += [c["key"] for c in next_changes(daemon)]
    return keys


def pipelined_sets(daemon: Wire, keys: list[str]) -> None:
    """Write all keys in one burst (group commits) and require every acknowledgement."""
    ids = [daemon.request("settings/set", {"key": k, "value": k}) for k in keys]
    for msg_id in ids:
        assert "result" in daemon.response(msg_id)


def test_a_server_down_is_31006_until_it_is_back_and_nothing_acknowledged_is_lost(
    spawn: DaemonFactory, pg_cluster: pg.Cluster, pg_url: str
) -> None:
    daemon = spawn("--database-url", pg_url)
    follower = watcher(lambda: spawn("--database-url", pg_url))
    keys = [f"before.{i:03d}" for i in range(100)]
    pipelined_sets(daemon, keys)
    assert notified_keys(follower, len(keys)) == keys

    pg_cluster.stop()
    try:
        # The request that meets the closed session, then one that cannot connect.
        for _ in range(2):
            error = daemon.error("settings/get", {"key": "before.000"})
            assert (error["code"], error["data"]) == (-31006, UNAVAILABLE)
        # A daemon started now starts all the same and says the same.
        late = spawn("--database-url", pg_url)
        assert late.result("daemon/status")["backend"] == "postgresql"
        error = late.error("settings/set", {"key": "late", "value": "x"})
        assert (error["code"], error["data"]) == (-31006, UNAVAILABLE)
        assert late.result("daemon/watch")["watching"] is True
    finally:
        pg_cluster.start()

    # pg_ctl start -w returns once the server accepts connections: the very
    # next request reconnects.
    listed = daemon.result("settings/getAll", {"prefix": "before."})
    assert [e["key"] for e in listed] == keys
    assert late.result("settings/set", {"key": "late", "value": "x"})["value"] == "x"
    # The watch listens again (within a retry interval) and reads on from
    # where it stood.
    with psycopg.connect(pg_url) as conn:
        conn.execute("INSERT INTO settings (key, value) VALUES ('after', 'y')")
    assert notified_keys(follower, 2) == ["late", "after"]
    assert daemon.stop() == 0 and follower.stop() == 0 and late.stop() == 0


def test_a_session_ended_under_the_daemon_fails_one_request_then_reconnects(
    spawn: DaemonFactory, pg_cluster: pg.Cluster, pg_url: str
) -> None:
    daemon = spawn("--database-url", pg_url)
    written = daemon.result("settings/set", {"key": "k", "value": "v"})
    sessions = pg_cluster.backends(dbname(pg_url))
    assert len(sessions) == 1  # not watching: the storage thread's session only
    pg_cluster.terminate(sessions)

    error = daemon.error("settings/set", {"key": "k", "value": "met the ended session"})
    assert (error["code"], error["data"]) == (-31006, UNAVAILABLE)
    assert daemon.result("settings/get", {"key": "k"}) == written
    assert pg_cluster.backends(dbname(pg_url)) not in ([], sessions)
    assert daemon.stop() == 0


# --- other sessions' locks -----------------------------------------------------------


def test_a_lock_held_by_another_session_is_busy_after_the_busy_timeout(pg_url: str) -> None:
    storage = open_storage(pg_url, busy_timeout=0.3)
    storage.open()
    try:
        storage.write(settings.set_, "k", "v")
        with psycopg.connect(pg_url) as other:
            other.execute("UPDATE settings SET value = 'theirs'")  # left uncommitted
            start = time.monotonic()
            with pytest.raises(StorageBusy):
                storage.write(settings.set_, "k", "ours")
            assert 0.3 <= time.monotonic() - start < 0.3 + BOUND
            assert storage.read(settings.get, "k") is not None  # reads never wait for writers
            other.rollback()
        assert storage.write(settings.set_, "k", "ours").value == "ours"
    finally:
        storage.close()


# --- notifications -------------------------------------------------------------------


def test_a_commit_is_notified_and_an_idle_watch_queries_nothing(
    spawn: DaemonFactory, pg_cluster: pg.Cluster, pg_url: str
) -> None:
    daemon = watcher(lambda: spawn("--database-url", pg_url))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO settings (key, value) VALUES ('warm', 'up')")
        assert [c["key"] for c in next_changes(daemon)] == ["warm"]

        # Delivered by NOTIFY, not by polling: no timed assertion here (the
        # wait is bounded by next_changes); the benchmark measures latency.
        conn.execute("INSERT INTO settings (key, value) VALUES ('k', 'v')")
        assert [c["key"] for c in next_changes(daemon)] == ["k"]

        def activity() -> list[tuple[object, ...]]:
            return conn.execute(
                "SELECT pid, query, query_start, state FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() ORDER BY pid"
            ).fetchall()

        # The storage session and the listener's; neither runs a query while
        # nothing changes (a poll would move query_start).
        idle = activity()
        assert len(idle) == 2 and "LISTEN idumb_changes" in [row[1] for row in idle]
        time.sleep(1.0)
        assert activity() == idle
    assert daemon.stop() == 0
