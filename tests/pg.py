"""A throwaway PostgreSQL cluster for the test session.

One cluster per session (initdb in a temporary folder, listening on a Unix
socket in that folder and on no TCP port, stopped and deleted at the end) and
a fresh database per test, so the PostgreSQL half of the suite costs one
server start. tests/conftest.py holds the fixtures; this module the mechanics.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

from idumb_daemon.storage.database import sqlite_path
from tests.wire import sqlite_exec

PORT = 54329
"""Names the socket file (.s.PGSQL.54329) in the cluster's folder; no TCP port is opened."""
SUPERUSER = "postgres"
PASSWORD_USER = "idumb_pw"
PASSWORD = "s3cret-pw-7f3a"
"""The one role that logs in with a password (SCRAM); every other role is trusted."""
TIMEOUT = 60


class ServerMissing(Exception):
    """No PostgreSQL server binaries (or no user to run them as)."""


def server_bin() -> Path:
    """The folder of initdb and pg_ctl: on the PATH, else where Debian's
    postgresql packages put them (/usr/lib/postgresql/<major>/bin)."""
    found = shutil.which("initdb")
    if found:
        folder = Path(found).resolve().parent
        if (folder / "pg_ctl").exists():
            return folder
    candidates = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not candidates:
        raise ServerMissing("PostgreSQL server binaries (initdb, pg_ctl) are not installed")

    def major(path: str) -> int:
        name = Path(path).parent.parent.name
        return int(name) if name.isdigit() else 0

    return Path(max(candidates, key=major)).parent


class Cluster:
    """A private server; `start()` and `stop()` may be called again by a test
    that takes the server away from the daemons under test."""

    def __init__(self) -> None:
        self.bin = server_bin()
        self._as_postgres: list[str] = []
        self.folder = Path(tempfile.mkdtemp(prefix="idumb-pg-"))
        if os.geteuid() == 0:
            # The server refuses to run as root.
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                shutil.rmtree(self.folder)
                raise ServerMissing("running as root and there is no postgres user") from None
            shutil.chown(self.folder, "postgres")
            self._as_postgres = ["runuser", "-u", "postgres", "--"]
        self.data = self.folder / "data"
        self._names = itertools.count(1)
        self._running = False

    def _pg(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [*self._as_postgres, str(self.bin / program), *args],
            capture_output=True,
            timeout=TIMEOUT,
        )
        if done.returncode != 0:
            log = self.folder / "log"
            server = log.read_text(errors="replace")[-4000:] if log.exists() else ""
            raise RuntimeError(
                f"{program} failed ({done.returncode}):\n"
                f"{done.stdout.decode(errors='replace')}{done.stderr.decode(errors='replace')}"
                f"{server}"
            )

    def init(self) -> None:
        self._pg("initdb", "-D", str(self.data), "--auth=trust", "-U", SUPERUSER, "--no-sync")
        hba = self.data / "pg_hba.conf"
        # The first matching line wins: the password role must authenticate.
        hba.write_text(
            f"local all {PASSWORD_USER} scram-sha-256\nlocal all all trust\n", encoding="utf-8"
        )
        self.start()
        with self.connect() as conn:
            conn.execute(f"CREATE ROLE {PASSWORD_USER} LOGIN PASSWORD '{PASSWORD}'")

    def start(self) -> None:
        # Durability is not under test here.
        options = (
            f"-c listen_addresses='' -k {self.folder} -p {PORT} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        log = str(self.folder / "log")
        self._pg(
            "pg_ctl", "-D", str(self.data), "-l", log, "-w", "-t", "30", "-o", options, "start"
        )
        self._running = True

    def stop(self, mode: str = "fast") -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")
        self._running = False

    def ensure_running(self) -> None:
        if not self._running:
            self.start()

    def remove(self) -> None:
        try:
            if self._running:
                self.stop("immediate")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    # databases

    def url(self, dbname: str, *, user: str = SUPERUSER, password: str | None = None) -> str:
        auth = user if password is None else f"{user}:{quote(password, safe='')}"
        return f"postgresql://{auth}@/{dbname}?host={self.folder}&port={PORT}"

    def connect(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=str(self.folder), port=PORT, user=SUPERUSER, dbname=dbname, autocommit=True
        )

    def create_database(self, *, owner: str = SUPERUSER) -> str:
        """A fresh, empty database; its name."""
        name = f"t{os.getpid()}_{next(self._names)}"
        with self.connect() as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE template0 OWNER {owner}")
        return name

    def drop_database(self, name: str) -> None:
        """Drop it, ending the sessions still on it (daemons being killed)."""
        if not self._running:
            return
        with self.connect() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def backends(self, dbname: str) -> list[int]:
        """The pids of the other sessions connected to `dbname`."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (dbname,),
            ).fetchall()
        return [int(pid) for (pid,) in rows]

    def terminate(self, pids: list[int]) -> None:
        with self.connect() as conn:
            for pid in pids:
                conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


def execute(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run one statement on the database at `url` as another program would
    (psycopg's placeholders: %s)."""
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(sql, params or None)
        return cursor.fetchall() if cursor.description else []


def run_sql(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run one statement as another program would, on either backend: a
    SQLite file through the stdlib, PostgreSQL through psycopg. `?` placeholders."""
    path = sqlite_path(url)
    if path is None:
        return execute(url, sql.replace("?", "%s"), *params)
    return sqlite_exec(path, sql, *params, timeout=TIMEOUT)
