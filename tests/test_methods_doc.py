"""The method table of docs/protocol.md comes from the contracts' method table:
every method is in it, and a stale table fails `contracts --check`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from idumb_daemon.codegen import methods_doc
from idumb_daemon.codegen.walk import read_contracts
from idumb_daemon.contracts import METHODS

REPO = Path(__file__).resolve().parent.parent


def test_the_table_lists_every_method_of_the_table_once() -> None:
    table = methods_doc.render(read_contracts())
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == list(METHODS)


def test_splice_replaces_only_the_region_between_the_markers() -> None:
    document = f"intro\n{methods_doc.BEGIN}\nold\n{methods_doc.END}\noutro\n"
    table = f"{methods_doc.BEGIN}\nnew\n{methods_doc.END}\n"
    assert methods_doc.splice(document, table) == f"intro\n{table}outro\n"
    with pytest.raises(ValueError, match="region"):
        methods_doc.splice("no markers here\n", table)


def test_a_stale_table_fails_the_check_and_the_docs_option_mends_it(tmp_path: Path) -> None:
    shutil.copytree(REPO / "contracts", tmp_path / "contracts")
    (tmp_path / "docs").mkdir()
    doc = tmp_path / "docs" / "protocol.md"
    text = (REPO / "docs" / "protocol.md").read_text(encoding="utf-8")
    doc.write_text(text.replace("| `settings/get` |", "| `settings/got` |"), encoding="utf-8")

    def contracts(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "idumb_daemon", "contracts", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )

    stale = contracts("--check")
    assert stale.returncode == 1
    assert "method table in docs/protocol.md is out of date" in stale.stderr
    assert contracts("--docs", "docs/protocol.md").returncode == 0
    assert doc.read_text(encoding="utf-8") == text
    assert contracts("--check").returncode == 0
