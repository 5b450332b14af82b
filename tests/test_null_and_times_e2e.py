"""PROTOCOL.md v2 judgement calls, over the wire: an explicit null for an
optional field is -32602 (but where null clears a stored value), and
settings/import takes any RFC 3339 `exportedAt`."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import DaemonFactory


@pytest.mark.parametrize(
    ("method", "params", "field"),
    [
        ("daemon/watch", {"enabled": None}, "enabled"),
        ("workspaceConfig/list", {"limit": None}, "limit"),
        ("settings/getAll", {"prefix": None}, "prefix"),
        ("settings/getAll", {"limit": None}, "limit"),
        ("settings/import", {"version": "1.0", "settings": [], "dryRun": None}, "dryRun"),
        ("settings/import", {"version": "1.0", "settings": [], "exportedAt": None}, "exportedAt"),
    ],
)
def test_explicit_null_for_an_optional_field_is_invalid_params(
    spawn: DaemonFactory, method: str, params: dict[str, Any], field: str
) -> None:
    daemon = spawn()
    error = daemon.error(method, params)
    assert error["code"] == -32602
    assert error["data"]["errors"] == [
        {"path": field, "message": "null is not allowed here: omit the field instead"}
    ]
    # `{"enabled": null}` used to turn watching on.
    assert daemon.result("daemon/status", {})["watching"] is False


def test_null_still_clears_where_the_protocol_says_so(spawn: DaemonFactory) -> None:
    daemon = spawn()
    daemon.result("workspaceConfig/set", {"projectDir": "/p", "name": "n", "config": {"a": 1}})
    cleared = daemon.result(
        "workspaceConfig/set", {"projectDir": "/p", "name": None, "config": None}
    )
    assert cleared["name"] is None and cleared["config"] is None


@pytest.mark.parametrize(
    "exported_at",
    [
        "2026-11-26T01:10:58Z",
        "2026-11-26T01:10:58+00:00",
        "2026-11-26T01:10:58.123Z",  # JavaScript's toISOString()
        "2026-11-26T02:10:58.5+01:00",
    ],
)
def test_an_export_with_any_rfc3339_time_imports(spawn: DaemonFactory, exported_at: str) -> None:
    daemon = spawn()
    document = {
        "version": "1.0",
        "exportedAt": exported_at,
        "settings": [{"key": "k", "value": "v"}],
    }
    assert daemon.result("settings/import", document)["added"] == ["k"]
    assert daemon.result("settings/get", {"key": "k"})["value"] == "v"
