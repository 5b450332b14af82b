"""Backups and recovery (docs/storage.md): a backup refreshed on clean exit from a
sound database only; a corrupt database moved aside and restored at start;
files that stay small under endless overwrites."""

from __future__ import annotations

import os
import random
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import DaemonFactory
from tests.reliability import digest, integrity, pipeline, seed
from tests.wire import sqlite_exec as query

PAGE = 4096
BULK = {f"bulk.{n:04d}": f"MARKER-{n:04d} " + "b" * 300 for n in range(200)}
SEED = 4242


def _backup(db: Path) -> Path:
    return db.with_name(db.name + ".backup")


def _stored(path: Path) -> dict[str, str]:
    return dict(query(path, "SELECT key, value FROM settings"))


def test_backup_is_refreshed_on_clean_exit_after_changes_only(
    spawn: DaemonFactory, db_path: Path
) -> None:
    first = spawn()
    first.result("settings/set", {"key": "k", "value": "v1"})
    assert first.stop() == 0
    backup = _backup(db_path)
    assert _stored(backup) == {"k": "v1"}
    assert integrity(backup) == [("ok",)]
    assert query(backup, "PRAGMA journal_mode") == [("delete",)]  # a plain file to copy back
    assert backup.stat().st_mode & 0o777 == 0o600
    before = digest(backup)

    reader = spawn()
    assert reader.result("settings/get", {"key": "k"})["value"] == "v1"
    assert reader.stop() == 0
    assert digest(backup) == before  # no changes, no new backup

    writer = spawn()
    writer.result("settings/set", {"key": "k", "value": "v2"})
    assert writer.stop() == 0
    assert _stored(backup) == {"k": "v2"}


def test_backup_is_not_refreshed_from_a_database_failing_quick_check(
    spawn: DaemonFactory, db_path: Path
) -> None:
    seed(db_path, {"k": "v", **BULK})
    backup = _backup(db_path)
    good = digest(backup)
    daemon = spawn()
    daemon.result("settings/set", {"key": "late", "value": "x"})
    # A page of old rows goes bad under the running daemon; its own writes
    # (in the WAL, checkpointed on exit) never touch that page.
    _bad_page(db_path, random.Random(SEED))
    assert daemon.stop() == 0
    assert digest(backup) == good
    assert b"fails quick_check: backup not refreshed" in daemon.stderr

    restarted = spawn()
    assert restarted.result("settings/get", {"key": "late"}) is None  # was only in the bad file
    recovered = restarted.result("daemon/status", {})["recovered"]
    assert recovered is not None and recovered["from"] == str(backup)
    assert restarted.result("settings/get", {"key": "bulk.0100"})["value"] == BULK["bulk.0100"]
    assert restarted.stop() == 0


def _truncate(path: Path, _rng: random.Random) -> None:
    os.truncate(path, path.stat().st_size // 2 + 100)


def _random_bytes(path: Path, rng: random.Random) -> None:
    path.write_bytes(rng.randbytes(path.stat().st_size))


def _bad_page(path: Path, rng: random.Random) -> None:
    offset = path.read_bytes().index(b"MARKER-0100")
    with path.open("r+b") as file:
        file.seek(offset // PAGE * PAGE)
        file.write(rng.randbytes(PAGE))


CORRUPTIONS: dict[str, Callable[[Path, random.Random], None]] = {
    "truncated": _truncate,
    "random-bytes": _random_bytes,
    "bad-page": _bad_page,
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_corrupt_database_is_moved_aside_and_restored_from_the_backup(
    spawn: DaemonFactory, db_path: Path, corruption: str
) -> None:
    seed(db_path, {"k": "v", **BULK})
    CORRUPTIONS[corruption](db_path, random.Random(SEED))
    bad = digest(db_path)

    daemon = spawn()
    assert daemon.result("settings/get", {"key": "k"})["value"] == "v"
    # Asked after a storage request: status does not wait for the start.
    recovered = daemon.result("daemon/status", {})["recovered"]
    assert recovered["from"] == str(_backup(db_path))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", recovered["at"])
    corrupt = Path(recovered["corruptFile"])
    assert re.fullmatch(re.escape(db_path.name) + r"\.corrupt-\d{8}T\d{6}Z", corrupt.name)
    assert corrupt.parent == db_path.parent
    assert digest(corrupt) == bad  # moved aside whole, never deleted

    assert len(daemon.result("settings/getAll", {"prefix": "bulk."})) == len(BULK)
    daemon.result("settings/set", {"key": "after", "value": "recovery"})
    assert daemon.stop() == 0
    assert integrity(db_path) == [("ok",)]
    assert db_path.stat().st_mode & 0o777 == 0o600
    assert _stored(db_path)["after"] == "recovery"


def test_corrupt_database_without_a_backup_stays_untouched_and_is_31004(
    spawn: DaemonFactory, db_path: Path
) -> None:
    seed(db_path, {"k": "v"})
    _backup(db_path).unlink()
    _random_bytes(db_path, random.Random(SEED))
    bad = digest(db_path)

    daemon = spawn()
    answers = pipeline(
        daemon,
        [
            ("settings/get", {"key": "k"}),
            ("settings/set", {"key": "k", "value": "w"}),
            ("workspaceConfig/list", {}),
        ],
    )
    assert [a["error"]["code"] for a in answers] == [-31004] * 3
    assert answers[0]["error"]["data"] == {"reason": "corrupt"}
    assert daemon.result("daemon/status", {})["recovered"] is None
    assert daemon.stop() == 0
    assert digest(db_path) == bad
    assert sorted(p.name for p in db_path.parent.iterdir()) == [db_path.name]


def test_ten_thousand_overwrites_of_100_keys_keep_the_files_small(
    spawn: DaemonFactory, db_path: Path, tmp_path: Path
) -> None:
    """The WAL is checkpointed, even with another daemon following every
    change (its reads must not pin the WAL), and free pages are reused."""
    daemon = spawn()
    watcher = spawn()
    assert watcher.result("daemon/watch", {"enabled": True})["watching"] is True
    wal = db_path.with_name(db_path.name + "-wal")
    wal_sizes, db_sizes = [], []
    for round_no in range(100):
        answers = pipeline(
            daemon,
            [
                ("settings/set", {"key": f"key.{k:03d}", "value": f"{round_no}:" + "v" * 40})
                for k in range(100)
            ],
        )
        assert not [a for a in answers if "error" in a]
        wal_sizes.append(wal.stat().st_size if wal.exists() else 0)
        db_sizes.append(db_path.stat().st_size)
    assert watcher.notification()["method"] == "settings/didChange"
    # Unchecked, the WAL would hold every frame of the 10,000 writes: over
    # 2 MiB even if every 100 of them shared one commit. Checkpointed, it
    # stays near its 32-page threshold plus what one group commit appends.
    assert max(wal_sizes) <= 1024 * 1024, wal_sizes
    assert daemon.stop() == 0
    assert watcher.stop() == 0
    # The database holds the 100 settings and the change log's last 10,000
    # rows, so it grows at first by design; with free pages reused it never
    # gets much bigger than that content packed anew.
    packed = tmp_path / "packed.db"
    query(db_path, "VACUUM INTO ?", str(packed))
    assert max(db_sizes) <= 2 * packed.stat().st_size, (db_sizes, packed.stat().st_size)
