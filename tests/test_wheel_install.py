"""The built wheel carries schema/: installed non-editable, away from the source
tree, the package finds its migrations and migrates a database."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import sysconfig
import zipfile
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


@pytest.mark.timeout(180)
def test_installed_wheel_migrates_from_its_own_schema(tmp_path: Path) -> None:
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
