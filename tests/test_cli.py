"""The request commands, run as a user runs them: `python -m idumb_daemon call|settings ...`.

Each command starts a daemon of its own; one test per feature, each on its own
database.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

from tests.wire import WAIT, daemon_env

Run = subprocess.CompletedProcess[str]


class Target(NamedTuple):
    """Where a sequence runs: its working folder and the database options."""

    folder: Path
    options: tuple[str, ...]


def on_file(folder: Path) -> Target:
    folder.mkdir()
    return Target(folder, ("--db", str(folder / "idumb.db")))


def cli(db: Target, *args: str, stdin: str | None = None) -> Run:
    return subprocess.run(
        [sys.executable, "-m", "idumb_daemon", *args, *db.options],
        input=stdin,
        capture_output=True,
        text=True,
        env=daemon_env(),
        timeout=WAIT,
        cwd=db.folder,
    )


def ok(run: Run) -> str:
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    return run.stdout


def failed(run: Run) -> str:
    assert run.returncode == 1, (run.stdout, run.stderr)
    assert run.stdout == ""
    assert run.stderr.startswith("idumb-daemon: ")
    return run.stderr


def call_commands(db: Target) -> None:
    entry = json.loads(ok(cli(db, "call", "settings/set", '{"key":"a","value":"b"}')))
    assert entry["key"] == "a" and entry["value"] == "b" and entry["updatedAt"].endswith("Z")

    stderr = failed(cli(db, "call", "settings/set", '{"key":"a","value":1}'))
    assert "(-32602)" in stderr
    data = json.loads(stderr.splitlines()[-1])
    assert [e["path"] for e in data["errors"]] == ["value"]

    # Not JSON: refused before any daemon starts.
    assert "Expecting" in failed(cli(db, "call", "settings/get", "{key: a}"))


def settings_commands(db: Target) -> None:
    entry = json.loads(ok(cli(db, "settings", "set", "editor.font-size", "14 é")))
    assert (entry["key"], entry["value"]) == ("editor.font-size", "14 é")
    assert ok(cli(db, "settings", "get", "editor.font-size")) == "14 é\n"
    assert json.loads(ok(cli(db, "settings", "list", "--prefix", "editor."))) == [entry]
    # Compare-and-set: a stale revision writes nothing and says what is stored.
    revision = str(entry["revision"])
    updated = json.loads(
        ok(cli(db, "settings", "set", "editor.font-size", "15", "--if-revision", revision))
    )
    assert updated["value"] == "15" and updated["revision"] > entry["revision"]
    stderr = failed(cli(db, "settings", "set", "editor.font-size", "16", "--if-revision", revision))
    assert "(-31007)" in stderr
    data = json.loads(stderr.splitlines()[-1])
    assert data == {
        "reason": "conflict",
        "conflicts": [{"key": "editor.font-size", "current": updated}],
    }
    assert ok(cli(db, "settings", "get", "editor.font-size")) == "15\n"
    assert json.loads(ok(cli(db, "settings", "delete", "editor.font-size"))) == {"deleted": True}
    assert "no setting 'editor.font-size'" in failed(cli(db, "settings", "get", "editor.font-size"))


def import_export_commands(db: Target) -> None:
    document = {
        "version": "1.0",
        "exportedAt": "2026-11-26T01:10:58Z",
        "settings": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}],
    }
    file = db.folder / "export.json"
    file.write_text(json.dumps(document))
    assert json.loads(ok(cli(db, "settings", "import", str(file)))) == {
        "imported": 2,
        "added": ["a", "b"],
        "changed": [],
        "removed": [],
    }

    smaller = json.dumps({"version": "1.0", "settings": [{"key": "a", "value": "one"}]})
    dry = json.loads(
        ok(cli(db, "settings", "import", "-", "--replace", "--dry-run", stdin=smaller))
    )
    assert dry == {"imported": 1, "added": [], "changed": ["a"], "removed": ["b"]}
    replaced = json.loads(ok(cli(db, "settings", "import", "--replace", stdin=smaller)))
    assert replaced == dry
    export = json.loads(ok(cli(db, "settings", "export")))
    assert export["version"] == "1.0" and export["exportedAt"].endswith("Z")
    assert export["settings"] == [{"key": "a", "value": "one"}]

    # Refused before any daemon starts.
    assert "JSON object" in failed(cli(db, "settings", "import", stdin="[]"))
    assert "No such file" in failed(cli(db, "settings", "import", str(db.folder / "nope")))


def test_call_sends_one_request_and_prints_its_result(tmp_path: Path) -> None:
    call_commands(on_file(tmp_path / "db"))


def test_settings_get_set_list_delete(tmp_path: Path) -> None:
    settings_commands(on_file(tmp_path / "db"))


def test_settings_import_and_export(tmp_path: Path) -> None:
    import_export_commands(on_file(tmp_path / "db"))


def test_settings_commands_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    settings_commands(Target(tmp_path, ("--database-url", pg_url)))


def test_settings_import_and_export_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    import_export_commands(Target(tmp_path, ("--database-url", pg_url)))


def test_one_command_line_names_every_subcommand(tmp_path: Path) -> None:
    helped = subprocess.run(
        [sys.executable, "-m", "idumb_daemon", "--help"],
        capture_output=True,
        text=True,
        env=daemon_env(),
        timeout=WAIT,
        cwd=tmp_path,
    )
    assert helped.returncode == 0, helped.stderr
    for name in ("serve", "call", "settings", "migrate", "schema", "contracts"):
        assert name in helped.stdout
    # The migrations' own entry point is the same declarations, by themselves.
    alone = subprocess.run(
        [
            sys.executable,
            "-m",
            "idumb_daemon.migrations",
            "migrate",
            "--dry-run",
            "--db",
            str(tmp_path / "x.db"),
        ],
        capture_output=True,
        text=True,
        env=daemon_env(),
        timeout=WAIT,
        cwd=tmp_path,
    )
    assert alone.returncode == 0, alone.stderr
