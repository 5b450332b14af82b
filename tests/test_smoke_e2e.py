"""The daemon end to end over stdio: a write survives into the next process."""

from __future__ import annotations

from tests.conftest import DaemonFactory


def test_value_written_by_one_process_is_read_by_the_next(spawn: DaemonFactory) -> None:
    first = spawn()
    entry = first.result("settings/set", {"key": "editor.fontSize", "value": "14"})
    assert entry["key"] == "editor.fontSize" and entry["value"] == "14"
    assert entry["updatedAt"].endswith("Z")
    assert first.stop() == 0

    second = spawn()
    assert second.result("settings/get", {"key": "editor.fontSize"}) == entry
    assert second.stop() == 0
