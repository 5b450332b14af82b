"""A `postgresql://` URL on an installation without the `postgres` extra
(issue 14, item 13): the daemon keeps serving; storage requests are -31006
saying what to install; daemon/status, watching and the lifecycle work.

The daemon runs as a real process whose `import psycopg` fails as it does
where the driver is not installed: a `psycopg` package ahead of it on
PYTHONPATH raises ImportError.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DaemonFactory
from tests.wire import REPO, WAIT, Wire, daemon_env

INSTALL_HINT = "pip install 'idumb-daemon[postgres]'"
# Never reached: the driver is missing before any connection is tried.
URL = "postgresql://someone@127.0.0.1:9/idumb"


@pytest.fixture
def without_driver(tmp_path: Path) -> dict[str, str]:
    package = tmp_path / "no-driver" / "psycopg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        'raise ImportError("No module named \'psycopg\'", name="psycopg")\n'
    )
    return {"PYTHONPATH": os.pathsep.join([str(REPO), str(package.parent)])}


def assert_driver_missing(error: dict[str, object]) -> None:
    assert error["code"] == -31006, error
    message = str(error["message"])
    assert "driver" in message and "psycopg" in message, message
    assert INSTALL_HINT in message, message


@pytest.mark.parametrize(
    "args", [["--database-url", URL], ["--database-url", URL.replace("postgresql", "postgres")]]
)
def test_storage_requests_say_the_driver_is_missing_and_the_daemon_serves_on(
    spawn: DaemonFactory, without_driver: dict[str, str], args: list[str]
) -> None:
    daemon = spawn(*args, env=without_driver)
    status = daemon.result("daemon/status")
    assert status["backend"] == "postgresql"
    assert status["schemaVersion"] is None
    for method, params in [
        ("settings/get", {"key": "a"}),
        ("settings/set", {"key": "a", "value": "1"}),
        ("settings/getAll", {}),
        ("workspaceConfig/list", {}),
        ("settings/get", {"key": "a"}),
    ]:
        assert_driver_missing(daemon.error(method, params))
    assert daemon.result("daemon/watch", {})["watching"] is True
    assert_driver_missing(daemon.error("settings/delete", {"key": "a"}))
    assert daemon.result("daemon/status")["watching"] is True
    assert daemon.stop() == 0
    stderr = daemon.stderr.decode()
    assert "Traceback" not in stderr, stderr
    assert INSTALL_HINT in stderr


def test_the_environment_url_without_the_driver_is_served_alike(
    without_driver: dict[str, str], db_path: Path
) -> None:
    daemon = Wire([], env={**without_driver, "IDUMB_DATABASE_URL": URL}, cwd=db_path.parent.parent)
    try:
        assert daemon.result("daemon/status")["backend"] == "postgresql"
        assert_driver_missing(daemon.error("settings/get", {"key": "a"}))
        assert daemon.stop() == 0
    finally:
        daemon.kill()


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]], ids=["migrate", "dry-run"])
def test_migrate_without_the_driver_fails_saying_what_to_install(
    without_driver: dict[str, str], dry_run: list[str]
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "idumb_daemon", "migrate", *dry_run, "--database-url", URL],
        env=daemon_env(without_driver),
        capture_output=True,
        timeout=WAIT,
    )
    assert done.returncode == 1
    assert done.stdout == b""
    stderr = done.stderr.decode()
    assert INSTALL_HINT in stderr and "Traceback" not in stderr, stderr
