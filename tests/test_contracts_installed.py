"""`idumb-daemon contracts --check [DIR]` from an installed (non-editable)
package: it reads DIR (default ./contracts), never a path beside the module."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    # Without PYTHONPATH, which would put the source tree ahead of the install.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=50
    )


@pytest.mark.timeout(90)
def test_contracts_check_works_from_an_installed_package(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=50)
    python = venv / "bin" / "python"
    # Dependencies (and hatchling, to build offline) from the environment running the tests.
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path)
    parents = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (Path(site.stdout.strip()) / "test_parent_env.pth").write_text("\n".join(sorted(parents)))
    install = run(
        python,
        "-m",
        "pip",
        "install",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        REPO,
        cwd=tmp_path,
    )
    assert install.returncode == 0, install.stderr
    where = run(python, "-c", "import idumb_daemon; print(idumb_daemon.__file__)", cwd=tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout

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
