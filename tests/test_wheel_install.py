"""The built wheel, installed non-editable away from the source tree: it
carries schema/ (the package finds its migrations and migrates a database),
and `contracts --check [DIR]` reads DIR, never a path beside the module."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import idumb_daemon
from idumb_daemon.migrations.files import load_migrations

REPO = Path(__file__).resolve().parent.parent
# Every migration of the source tree, which the wheel must carry byte for byte.
SHIPPED = load_migrations(REPO / "schema")


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    # Without PYTHONPATH, which would put the source tree ahead of the install.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=100
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A virtualenv with the wheel installed in it; yields its python."""
    tmp_path = tmp_path_factory.mktemp("wheel")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=50)
    python = venv / "bin" / "python"
    # The dependencies come from the environment running the tests:
    # --system-site-packages would only reach the base interpreter's, not
    # this virtualenv's.
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path)
    parents = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (Path(site.stdout.strip()) / "test_parent_env.pth").write_text("\n".join(sorted(parents)))

    # Built as a user's pip builds it: with build isolation, so the build
    # backend comes from the package index, not from the test environment.
    dist = tmp_path / "dist"
    built = run(python, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, REPO, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("idumb_daemon-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    # The benchmark runs from the checkout only: the wheel is the daemon.
    tops = {name.split("/")[0] for name in names}
    assert tops == {"idumb_daemon", f"idumb_daemon-{idumb_daemon.__version__}.dist-info"}, tops
    assert not any(name.startswith("idumb_daemon/bench/") for name in names)

    install = run(python, "-m", "pip", "install", "-q", "--no-deps", wheel, cwd=tmp_path)
    assert install.returncode == 0, install.stderr
    yield python


@pytest.mark.timeout(180)
def test_installed_wheel_migrates_from_its_own_schema(installed: Path, tmp_path: Path) -> None:
    python = installed
    venv = python.parent.parent

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run(
        python,
        "-c",
        "import idumb_daemon, idumb_daemon.migrations as m; "
        "print(idumb_daemon.__file__); print(m.schema_dir())",
        cwd=elsewhere,
    )
    package_file, schema = where.stdout.split()
    assert Path(package_file).is_relative_to(venv), package_file
    assert Path(schema) == Path(package_file).parent / "schema"
    # The version is written once, in the package; the wheel's metadata has it.
    versions = run(
        python,
        "-c",
        "import idumb_daemon, importlib.metadata as m; "
        "print(idumb_daemon.__version__, m.version('idumb-daemon'))",
        cwd=elsewhere,
    )
    ours, packaged = versions.stdout.split()
    assert ours == packaged == idumb_daemon.__version__

    db = tmp_path / "x.db"
    migrated = run(python, "-m", "idumb_daemon.migrations", "migrate", "--db", db, cwd=elsewhere)
    assert migrated.returncode == 0, migrated.stderr
    applied = [line for line in migrated.stdout.splitlines() if line.startswith("applied ")]
    assert applied == [f"applied {m.label}" for m in SHIPPED]
    conn = sqlite3.connect(db)
    try:
        recorded = conn.execute(
            "SELECT version, name, checksum FROM __idumb_migrations ORDER BY version"
        ).fetchall()
    finally:
        conn.close()
    assert recorded == [(m.version, m.name, m.checksum) for m in SHIPPED]
    checked = run(python, "-m", "idumb_daemon.migrations", "schema", "check", cwd=elsewhere)
    assert checked.returncode == 0, checked.stderr


@pytest.mark.timeout(180)
def test_contracts_check_works_from_the_installed_package(installed: Path, tmp_path: Path) -> None:
    python = installed
    in_repo = run(python, "-m", "idumb_daemon", "contracts", "--check", cwd=REPO)
    assert in_repo.returncode == 0, in_repo.stderr
    assert "contracts/idumb.d.ts is up to date" in in_repo.stdout

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    named = run(
        python, "-m", "idumb_daemon", "contracts", "--check", REPO / "contracts", cwd=elsewhere
    )
    assert named.returncode == 0, named.stderr

    missing = run(python, "-m", "idumb_daemon", "contracts", "--check", cwd=elsewhere)
    assert missing.returncode == 1
    assert "contracts/idumb.schema.json is missing" in missing.stderr

    stale = elsewhere / "stale"
    shutil.copytree(REPO / "contracts", stale)
    ts = stale / "idumb.d.ts"
    ts.write_text(ts.read_text(encoding="utf-8").replace("key: string;", "key: number;", 1))
    out_of_date = run(python, "-m", "idumb_daemon", "contracts", "--check", stale, cwd=elsewhere)
    assert out_of_date.returncode == 1
    assert "idumb.d.ts is out of date" in out_of_date.stderr
    assert "idumb.schema.json is up to date" in out_of_date.stdout
