"""The Python client against a real daemon: typed calls, typed errors, clean close."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import pytest

from idumb_daemon.client import ConnectionClosed, DaemonClient, DaemonError
from idumb_daemon.contracts import (
    DaemonStatus,
    ImportResult,
    SettingInput,
    SettingsEntry,
    SettingsExport,
    WorkspaceConfig,
)
from idumb_daemon.storage.database import safe_url
from tests.wire import WAIT, daemon_env


@pytest.fixture
def stderr_file(tmp_path: Path) -> Iterator[IO[bytes]]:
    with (tmp_path / "daemon.stderr").open("w+b") as file:
        yield file


def spawn(db: Path, stderr: IO[bytes]) -> DaemonClient:
    return DaemonClient.spawn(["--db", str(db)], env=daemon_env(), stderr=stderr, timeout=WAIT)


def just_now(moment: datetime | None) -> bool:
    assert moment is not None and moment.tzinfo is not None
    return abs(datetime.now(UTC) - moment) < timedelta(seconds=WAIT)


def test_every_typed_call(database_url: str, stderr_file: IO[bytes]) -> None:
    client = DaemonClient.spawn(
        ["--database-url", database_url], env=daemon_env(), stderr=stderr_file, timeout=WAIT
    )
    with client:
        assert client.get("editor.fontSize") is None
        entry = client.set("editor.fontSize", "14")
        assert isinstance(entry, SettingsEntry)
        assert (entry.key, entry.value) == ("editor.fontSize", "14")
        assert just_now(entry.updated_at)
        assert client.get("editor.fontSize") == entry

        many = client.set_many({"b.class": "2", "a.from": "1", "c-d.e": "3"})
        assert [e.key for e in many] == ["b.class", "a.from", "c-d.e"]
        assert all(isinstance(e, SettingsEntry) for e in many)
        assert [e.key for e in client.get_all()] == [
            "a.from",
            "b.class",
            "c-d.e",
            "editor.fontSize",
        ]
        assert [e.key for e in client.get_all(prefix="b.")] == ["b.class"]
        assert [e.key for e in client.get_all(after="b.class", limit=1)] == ["c-d.e"]

        assert client.delete("c-d.e") is True
        assert client.delete("c-d.e") is False

        export = client.export()
        assert isinstance(export, SettingsExport) and export.version == "1.0"
        assert just_now(export.exported_at)
        assert export.settings == [
            SettingInput("a.from", "1"),
            SettingInput("b.class", "2"),
            SettingInput("editor.fontSize", "14"),
        ]

        file = SettingsExport(
            version="1.0", settings=[SettingInput("a.from", "1"), SettingInput("new", "n")]
        )
        dry = client.import_(file, replace=True, dry_run=True)
        assert dry == ImportResult(
            imported=2, added=["new"], changed=[], removed=["b.class", "editor.fontSize"]
        )
        assert client.get("new") is None
        assert client.import_(file) == ImportResult(
            imported=2, added=["new"], changed=[], removed=[]
        )
        assert client.import_(export, replace=True) == ImportResult(
            imported=3, added=[], changed=[], removed=["new"]
        )
        assert client.export().settings == export.settings

        assert client.workspace_get("/p") is None
        ws = client.workspace_set("/p//q/", name="Q", config={"tabs": 4})
        assert ws == WorkspaceConfig(
            project_dir="/p/q", name="Q", last_opened=None, config={"tabs": 4}, revision=ws.revision
        )
        assert client.workspace_set("/p/q", name=None) == WorkspaceConfig(
            project_dir="/p/q",
            name=None,
            last_opened=None,
            config={"tabs": 4},
            revision=ws.revision + 1,
        )
        stale = ws.revision
        with pytest.raises(DaemonError) as conflict:
            client.workspace_set("/p/q", name="lost", if_revision=stale)
        assert conflict.value.code == -31007
        opened = client.workspace_open("/p/q")
        assert just_now(opened.last_opened) and opened.config == {"tabs": 4}
        client.workspace_set("/never")
        assert [w.project_dir for w in client.workspace_list()] == ["/p/q", "/never"]
        assert [w.project_dir for w in client.workspace_list(limit=1)] == ["/p/q"]
        assert client.workspace_get("/p/q") == opened
        assert client.workspace_delete("/p/q") is True
        assert client.workspace_delete("/p/q") is False

        status = client.status()
        assert isinstance(status, DaemonStatus)
        assert status.protocol_version == 2
        assert status.backend == database_url.partition(":")[0]
        assert status.database == safe_url(database_url)
        assert client.watch(False) is False
        assert isinstance(client.watch(), bool)
        assert client.request("settings/get", {"key": "a.from"})["value"] == "1"
        calls_from_several_threads(client)
    # Leaving the block closed it: shutdown, exit, status 0.
    assert client.process is not None and client.process.returncode == 0


def calls_from_several_threads(client: DaemonClient) -> None:
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(25):
                key = f"thread{n}.{i}"
                assert client.set(key, str(i)).value == str(i)
                entry = client.get(key)
                assert entry is not None and entry.value == str(i)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert not any(t.is_alive() for t in threads)
    assert not failures, failures
    assert len(client.get_all(prefix="thread")) == 200


def test_errors_carry_code_and_data(tmp_path: Path, stderr_file: IO[bytes]) -> None:
    client = spawn(tmp_path / "idumb.db", stderr_file)
    with pytest.raises(DaemonError) as refused:
        client.set("k" * 513, "v")
    assert refused.value.code == -32602
    assert [e["path"] for e in refused.value.data["errors"]] == ["key"]
    assert refused.value.message and "-32602" in str(refused.value)

    with pytest.raises(DaemonError) as unknown:
        client.request("settings/nope", {})
    assert unknown.value.code == -32601 and unknown.value.data == {"method": "settings/nope"}

    with pytest.raises(DaemonError) as positional:
        client.request("settings/get", ["k"])
    assert positional.value.code == -32602

    with pytest.raises(DaemonError) as too_many:
        client.set_many({f"k{i}": "v" for i in range(10001)})
    assert too_many.value.code == -32602
    assert [e["path"] for e in too_many.value.data["errors"]] == ["entries"]

    with pytest.raises(DaemonError) as relative:
        client.workspace_open("relative")
    assert relative.value.data["errors"][0]["path"] == "projectDir"

    assert client.get("k" * 512) is None  # still serving
    assert client.close() == 0
    with pytest.raises(ConnectionClosed):
        client.get("k")


def test_attach_to_given_streams(tmp_path: Path, stderr_file: IO[bytes]) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "idumb_daemon", "serve", "--db", str(tmp_path / "idumb.db")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr_file,
        env=daemon_env(),
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        client = DaemonClient(process.stdout, process.stdin, timeout=WAIT)
        assert client.set("attached", "yes").value == "yes"
        assert client.close() is None  # not our process: no status to report
        # ...but it was told to shut down and exit.
        assert process.wait(WAIT) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(WAIT)


def test_a_daemon_that_dies_fails_pending_and_later_calls(
    tmp_path: Path, stderr_file: IO[bytes]
) -> None:
    client = spawn(tmp_path / "idumb.db", stderr_file)
    client.set("k", "v")
    assert client.process is not None
    client.process.kill()
    client.process.wait(WAIT)
    with pytest.raises(ConnectionClosed):
        client.get("k")
    assert client.close() == -9
