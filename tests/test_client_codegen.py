"""The TypeScript client's generated module (issue 17): clients/typescript/src/
generated.ts is what `idumb-daemon contracts --format client` prints, has one
typed call per method of the table, and a bare `contracts --check` (CI) fails
once a method is missing from it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from idumb_daemon import contracts
from idumb_daemon.codegen import client
from tests.wire import REPO, daemon_env

GENERATED = REPO / client.PATH


def contracts_command(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "idumb_daemon", "contracts", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=daemon_env(),
        timeout=60,
    )


def test_the_committed_module_is_the_generated_one() -> None:
    printed = contracts_command("--format", "client")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == GENERATED.read_text(encoding="utf-8")
    checked = contracts_command("--check")
    assert checked.returncode == 0, checked.stderr
    assert "clients/typescript/src/generated.ts is up to date" in checked.stdout


def test_every_method_has_its_typed_call() -> None:
    text = GENERATED.read_text(encoding="utf-8")
    for name in contracts.METHODS:
        assert f'  "{name}",\n' in text, name  # METHODS, for request()
        if "/" in name:
            group, call = name.split("/", 1)
            assert f'send("{name}", ' in text, name
            assert f"    /** `{name}` */\n    {call}(" in text, name
            assert f"  {group}: {{\n" in text, group


def test_a_method_missing_from_the_client_fails_the_check(tmp_path: Path) -> None:
    shutil.copytree(REPO / "contracts", tmp_path / "contracts")
    stale = tmp_path / client.PATH
    stale.parent.mkdir(parents=True)
    line = '      setMany: (params, signal) => send("settings/setMany", params, signal),\n'
    text = GENERATED.read_text(encoding="utf-8")
    assert text.count(line) == 1
    stale.write_text(text.replace(line, ""), encoding="utf-8")

    checked = contracts_command("--check", cwd=tmp_path)
    assert checked.returncode == 1
    assert "clients/typescript/src/generated.ts is out of date" in checked.stderr
    assert "+" + line.rstrip("\n") in checked.stderr
    assert "contracts/idumb.d.ts is up to date" in checked.stdout
