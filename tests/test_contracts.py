"""The wire shapes and their converter: round trips, strict refusals, limits, error paths."""

import inspect
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from idumb_daemon import contracts as c
from idumb_daemon.contracts import ParamsInvalid, structure, unstructure

T = "2026-11-26T01:10:58Z"
MIB = 1_048_576
ENTRY = {"key": "editor.fontSize", "value": "14"}
STORED = {**ENTRY, "revision": 7, "projectDir": None}
WORKSPACE = {
    "projectDir": "/home/ada/project",
    "name": "project",
    "lastOpened": T,
    "config": {"tabs": [1, 2.5, True, None, {"ü": "ß"}], "empty": {}},
    "revision": 3,
}
SESSION = {"id": "s1", "createdAt": T, "updatedAt": T, "status": "running"}
FULL_SESSION = {**SESSION, "title": "Fix it", "parentId": "s0"}
PART = {"type": "tool", "id": "p1", "state": {"status": "done", "input": {"argv": ["ls", "-l"]}}}
MESSAGE = {"id": "m1", "role": "assistant", "parts": [PART, {"type": "text"}], "createdAt": T}
RECOVERY = {"from": "/data/idumb.db.bak", "at": T, "corruptFile": "/data/idumb.db.corrupt"}
STATUS = {
    "version": "0.1.0",
    "protocolVersion": 1,
    "schemaVersion": 3,
    "backend": "sqlite",
    "database": "/data/idumb.db",
    "watching": False,
    "recovered": None,
    "revision": 12,
}
IDUMB = {"protocolVersion": 1, "methods": ["settings/get"], "notifications": ["settings/didChange"]}

# Each wire shape with JSON it must turn into and give back unchanged.
SAMPLES: list[tuple[type[Any], Any]] = [
    (c.SettingsEntry, {**STORED, "updatedAt": T}),
    (c.SettingsEntry, {**STORED, "updatedAt": None, "projectDir": "/p"}),
    (c.WorkspaceConfig, WORKSPACE),
    (
        c.WorkspaceConfig,
        {"projectDir": "/", "name": None, "lastOpened": None, "config": None, "revision": 0},
    ),
    (c.SettingInput, ENTRY),
    (c.SettingsGetParams, {"key": "a"}),
    (c.SettingsSetParams, {"key": "a", "value": ""}),
    (c.SettingsSetParams, {"key": "a", "value": "", "ifRevision": 0}),
    (c.SettingsDeleteParams, {"key": "a", "ifRevision": 9}),
    (c.SettingsSetManyEntry, {"key": "a", "value": "1", "ifRevision": 2}),
    (c.WorkspaceDeleteParams, {"projectDir": "/a", "ifRevision": 0}),
    (c.WatchParams, {"enabled": True, "since": 41}),
    (c.SettingsDeleteParams, {"key": "a"}),
    (c.SettingsGetAllParams, {}),
    (c.SettingsGetAllParams, {"prefix": "a%_", "after": "a%_b", "limit": 10}),
    (c.SettingsSetManyParams, {"entries": [ENTRY, {"key": "b", "value": "2"}]}),
    (c.SettingsExportParams, {}),
    (c.SettingsExport, {"version": "1.0", "settings": [ENTRY], "exportedAt": T}),
    (c.SettingsExport, {"version": "1.0", "settings": []}),
    (
        c.SettingsImportParams,
        {"version": "1.0", "settings": [ENTRY], "exportedAt": T, "replace": True, "dryRun": True},
    ),
    (c.SettingsImportParams, {"version": "1.0", "settings": [], "replace": False, "dryRun": False}),
    (c.WorkspaceGetParams, {"projectDir": "/a"}),
    (c.WorkspaceSetParams, {"projectDir": "/a"}),
    (c.WorkspaceSetParams, {"projectDir": "/a", "name": None, "config": None}),
    (c.WorkspaceSetParams, {"projectDir": "/a", "name": "A", "config": {"x": [1]}}),
    (c.WorkspaceOpenParams, {"projectDir": "/a"}),
    (c.WorkspaceListParams, {"limit": 50}),
    (c.WorkspaceDeleteParams, {"projectDir": "/a"}),
    (c.SettingsDeclareParams, {"owner": "ide", "settings": {"a": {"type": "integer"}}}),
    (c.DeclareResult, {"declared": 1}),
    (c.SettingsDeclarationsParams, {"prefix": "a"}),
    (c.DeclaredSetting, {"key": "a", "owner": "ide", "declaration": {"scope": "user"}}),
    (c.SettingsResolveParams, {"keys": ["a", "b"]}),
    (c.SettingsResolveParams, {"prefix": "a"}),
    (c.Resolved, {"key": "a", "value": [80], "source": "default", "revision": None}),
    (
        c.Resolved,
        {
            "key": "a",
            "value": 14,
            "source": "user",
            "revision": 3,
            "from": "b",
            "problems": [{"layer": "workspace", "message": "not JSON"}],
        },
    ),
    (c.Problem, {"layer": "user", "message": "not JSON"}),
    (c.SettingsInspectParams, {"key": "a"}),
    (
        c.Inspection,
        {
            "key": "a",
            "owner": None,
            "declaration": None,
            "default": None,
            "user": {**STORED, "updatedAt": T},
            "workspace": None,
            "value": "1",
            "source": "user",
            "problems": [],
        },
    ),
    (c.DaemonStatusParams, {}),
    (c.WatchParams, {"enabled": False}),
    (c.InitializeParams, {}),
    (c.InitializeParams, {"processId": 4242}),
    (c.DeleteResult, {"deleted": True}),
    (c.ImportResult, {"imported": 3, "added": ["a"], "changed": ["b"], "removed": []}),
    (c.RecoveryInfo, RECOVERY),
    (c.DaemonStatus, STATUS),
    (c.DaemonStatus, {**STATUS, "schemaVersion": None, "recovered": RECOVERY}),
    (c.WatchResult, {"watching": True, "revision": 5}),
    (c.DaemonStatus, {**STATUS, "revision": None}),
    (c.IdumbCapabilities, IDUMB),
    (c.ExperimentalCapabilities, {"idumb": IDUMB}),
    (c.ServerCapabilities, {"experimental": {"idumb": IDUMB}}),
    (c.ServerInfo, {"name": "idumb-daemon", "version": "0.1.0"}),
    (
        c.InitializeResult,
        {
            "capabilities": {"experimental": {"idumb": IDUMB}},
            "serverInfo": {"name": "idumb-daemon", "version": "0.1.0"},
        },
    ),
    (
        c.SettingChange,
        {"key": "a", "value": "1", "updatedAt": T, "revision": 4, "projectDir": None},
    ),
    (
        c.SettingChange,
        {"key": "a", "value": None, "updatedAt": None, "revision": 5, "projectDir": "/p"},
    ),
    (
        c.SettingsDidChangeParams,
        {
            "changes": [
                {"key": "a", "value": None, "updatedAt": None, "revision": 2, "projectDir": None}
            ],
            "revision": 3,
            "resync": False,
        },
    ),
    (c.WorkspaceChange, {"projectDir": "/a", "workspace": None, "revision": 1}),
    (
        c.WorkspaceConfigDidChangeParams,
        {
            "changes": [{"projectDir": "/a", "workspace": WORKSPACE, "revision": 3}],
            "revision": 3,
            "resync": True,
        },
    ),
    (c.FieldError, {"path": "entries.3.key", "message": "expected a string"}),
    (c.InvalidParamsData, {"errors": [{"path": "", "message": "expected an object"}]}),
    (c.MethodNotFoundData, {"method": "nope"}),
    (c.StorageErrorData, {"reason": "busy"}),
    (
        c.SchemaTooNewData,
        {"reason": "schema_too_new", "databaseVersion": 9, "supportedVersion": 3},
    ),
    # engine shapes
    (c.ModelInfo, {"id": "m", "name": "Model"}),
    (c.ProviderInfo, {"id": "p", "name": "P", "models": [{"id": "m", "name": "Model"}]}),
    (c.AgentInfo, {"id": "a", "name": "A"}),
    (c.AgentInfo, {"id": "a", "name": "A", "description": "helps"}),
    (c.AppPaths, {"cwd": "/w", "config": "/c", "data": "/d"}),
    (c.AppInfo, {"path": {"cwd": "/w", "config": "/c", "data": "/d"}}),
    (
        c.AppInfo,
        {"path": {"cwd": "/w", "config": "/c", "data": "/d"}, "git": True, "hostname": "h"},
    ),
    (c.Session, SESSION),
    (c.Session, FULL_SESSION),
    (c.Part, PART),
    (c.Part, {"type": "text"}),
    (c.Event, {"type": "session.updated", "properties": {"info": FULL_SESSION}}),
    (c.Message, MESSAGE),
    (c.EngineStatus, {"running": False}),
    (
        c.EngineStatus,
        {"running": True, "url": "http://127.0.0.1:4096", "projectDir": "/p", "port": 4096},
    ),
    (c.DashboardConfig, {"projectDir": "/p", "port": 3000, "backendPort": 3001, "open": True}),
    (
        c.DashboardConfig,
        {
            "projectDir": "/p",
            "port": 3000,
            "backendPort": 3001,
            "open": False,
            "opencodePort": 4096,
        },
    ),
    (c.PortConfig, {"detect": True, "autoPort": False}),
    (c.PortConfig, {"detect": False, "autoPort": True, "userPort": 8080}),
    (c.TextPart, {"type": "text", "text": "hello"}),
    (c.SessionPromptRequest, {"parts": [{"type": "text", "text": "hello"}]}),
    (c.SessionListResponse, {"sessions": [SESSION, FULL_SESSION]}),
    (c.SessionCreateResponse, {"session": SESSION}),
    (c.SessionMessage, {"info": MESSAGE, "parts": [PART]}),
    (c.SessionMessagesResponse, {"messages": [{"info": MESSAGE, "parts": []}]}),
    (c.SessionStatusResponse, {"status": "completed"}),
    (c.SessionChildrenResponse, {"children": [FULL_SESSION]}),
    (c.EngineErrorResponse, {"error": "boom"}),
]


def refusal(obj: Any, cls: type[Any]) -> dict[str, str]:
    """The FieldErrors of structuring `obj` as `cls`, path -> message."""
    with pytest.raises(ParamsInvalid) as caught:
        structure(obj, cls)
    errors = caught.value.errors
    assert len({e.path for e in errors}) == len(errors), errors
    return {e.path: e.message for e in errors}


def entries(n: int) -> list[dict[str, str]]:
    return [{"key": f"k{i}", "value": "v"} for i in range(n)]


# --- round trips --------------------------------------------------------------------------


@pytest.mark.parametrize(("cls", "wire"), SAMPLES, ids=lambda x: getattr(x, "__name__", ""))
def test_round_trip(cls: type[Any], wire: Any) -> None:
    obj = structure(json.loads(json.dumps(wire)), cls)
    assert isinstance(obj, cls)
    assert unstructure(obj) == wire
    assert json.loads(json.dumps(unstructure(obj))) == wire


def test_every_wire_shape_has_a_round_trip_sample() -> None:
    shapes = {
        obj
        for name, obj in inspect.getmembers(c, attrs.has)
        if isinstance(obj, type)
        and not name.startswith("_")
        and obj.__module__.startswith(c.__name__ + ".")
        and obj not in (c.Method, c.Check)
    }
    assert shapes - {cls for cls, _ in SAMPLES} == set()


def test_fields_are_snake_case_and_json_camel_case() -> None:
    status = structure(STATUS | {"recovered": RECOVERY}, c.DaemonStatus)
    assert status.protocol_version == 1
    assert status.recovered is not None
    assert status.recovered.from_ == "/data/idumb.db.bak"
    assert status.recovered.at == datetime(2026, 11, 26, 1, 10, 58, tzinfo=UTC)
    assert status.recovered.corrupt_file == "/data/idumb.db.corrupt"


def test_open_shapes_keep_their_extra_fields() -> None:
    part = structure(PART, c.Part)
    assert part.type == "tool"
    assert part.extra == {k: v for k, v in PART.items() if k != "type"}
    with pytest.raises(ValueError, match="type"):
        c.Part(type="text", extra={"type": "image"})


def test_unstructuring_leaves_out_unset_and_absent_optional_fields() -> None:
    assert unstructure(c.WorkspaceSetParams(project_dir="/a")) == {"projectDir": "/a"}
    assert unstructure(c.WorkspaceSetParams(project_dir="/a", name=None)) == {
        "projectDir": "/a",
        "name": None,
    }
    assert unstructure(c.AgentInfo(id="a", name="A")) == {"id": "a", "name": "A"}
    assert unstructure(c.EngineStatus(running=True)) == {"running": True}
    assert unstructure(
        c.SettingsEntry(key="k", value="v", updated_at=None, revision=1, project_dir=None)
    ) == {"key": "k", "value": "v", "updatedAt": None, "revision": 1, "projectDir": None}
    assert unstructure([c.DeleteResult(deleted=False), None]) == [{"deleted": False}, None]


def test_results_structure_from_type_expressions() -> None:
    """The client reads results through the METHODS table's result types."""
    getter = c.METHODS["settings/get"].result
    assert structure(None, getter) is None
    assert structure({**STORED, "updatedAt": None}, getter) == c.SettingsEntry(
        key="editor.fontSize", value="14", updated_at=None, revision=7, project_dir=None
    )
    lister = c.METHODS["settings/getAll"].result
    assert structure([], lister) == []
    assert refusal([{"key": "a"}], lister) == {
        "0.value": "missing required field",
        "0.updatedAt": "missing required field",
        "0.revision": "missing required field",
        "0.projectDir": "missing required field",
    }


# --- omitted, null, defaults --------------------------------------------------------------


def test_omitted_and_null_differ_where_null_clears() -> None:
    omitted = structure({"projectDir": "/a"}, c.WorkspaceSetParams)
    assert omitted.name is c.UNSET
    assert omitted.config is c.UNSET
    cleared = structure({"projectDir": "/a", "name": None, "config": None}, c.WorkspaceSetParams)
    assert cleared.name is None
    assert cleared.config is None


@pytest.mark.parametrize(
    ("cls", "wire", "expected"),
    [
        (c.WatchParams, {}, c.WatchParams(enabled=True)),
        (c.WorkspaceListParams, {}, c.WorkspaceListParams(limit=50)),
        (c.SettingsGetAllParams, {}, c.SettingsGetAllParams()),
        (
            c.SettingsImportParams,
            {"version": "1.0", "settings": []},
            c.SettingsImportParams(version="1.0", settings=[]),
        ),
        # LSP's own shape, where processId is `integer | null`.
        (c.InitializeParams, {"processId": None}, c.InitializeParams()),
    ],
)
def test_omitted_optional_params_take_their_default(
    cls: type[Any], wire: Any, expected: Any
) -> None:
    assert structure(wire, cls) == expected


@pytest.mark.parametrize(
    ("cls", "wire", "field"),
    [
        (c.WatchParams, {"enabled": None}, "enabled"),
        (c.WorkspaceListParams, {"limit": None}, "limit"),
        (c.SettingsGetAllParams, {"prefix": None}, "prefix"),
        (c.SettingsGetAllParams, {"after": None}, "after"),
        (c.SettingsGetAllParams, {"limit": None}, "limit"),
        (
            c.SettingsImportParams,
            {"version": "1.0", "settings": [], "exportedAt": None},
            "exportedAt",
        ),
        (c.SettingsImportParams, {"version": "1.0", "settings": [], "replace": None}, "replace"),
        (c.SettingsImportParams, {"version": "1.0", "settings": [], "dryRun": None}, "dryRun"),
    ],
)
def test_explicit_null_for_an_optional_param_is_refused(
    cls: type[Any], wire: Any, field: str
) -> None:
    """PROTOCOL.md v2: null is not "absent" (it used to turn watching on, or give 50)."""
    assert refusal(wire, cls) == {field: "null is not allowed here: omit the field instead"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-26T01:10:58Z", datetime(2026, 11, 26, 1, 10, 58, tzinfo=UTC)),
        ("2026-11-26T01:10:58+00:00", datetime(2026, 11, 26, 1, 10, 58, tzinfo=UTC)),
        ("2026-11-26T01:10:58.123Z", datetime(2026, 11, 26, 1, 10, 58, 123000, tzinfo=UTC)),
        ("2026-11-26t01:10:58.123456789z", datetime(2026, 11, 26, 1, 10, 58, 123456, tzinfo=UTC)),
        ("2026-11-26T03:10:58+02:00", datetime(2026, 11, 26, 1, 10, 58, tzinfo=UTC)),
    ],
)
def test_export_time_is_any_rfc3339_time(text: str, expected: datetime) -> None:
    """An export the TypeScript app made (toISOString(): milliseconds) must import."""
    params = structure(
        {"version": "1.0", "settings": [], "exportedAt": text}, c.SettingsImportParams
    )
    assert params.exported_at == expected


@pytest.mark.parametrize(
    "text", ["2026-11-26 01:10:58Z", "2026-11-26T01:10:58", "2026-13-26T01:10:58Z", "today"]
)
def test_export_time_that_is_not_rfc3339_is_refused(text: str) -> None:
    wire = {"version": "1.0", "settings": [], "exportedAt": text}
    assert set(refusal(wire, c.SettingsImportParams)) == {"exportedAt"}


def test_initialize_ignores_unknown_fields_and_no_other_shape_does() -> None:
    lsp = {
        "processId": 77,
        "rootUri": None,
        "capabilities": {"workspace": {"applyEdit": True}},
        "clientInfo": {"name": "vscode", "version": "1.99"},
        "trace": "off",
    }
    assert structure(lsp, c.InitializeParams) == c.InitializeParams(process_id=77)
    assert refusal({"enabled": True, "trace": "off"}, c.WatchParams) == {"trace": "unknown field"}


# --- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize("params", [None, [], ["key"], "key", 1, True])
def test_params_that_are_not_an_object(params: Any) -> None:
    assert refusal(params, c.SettingsGetParams) == {"": "expected an object"}
    assert refusal(params, c.InitializeParams) == {"": "expected an object"}


@pytest.mark.parametrize(
    ("cls", "wire", "path", "message"),
    [
        (c.SettingsGetParams, {"key": 1}, "key", "expected a string"),
        (c.SettingsGetParams, {"key": ["a"]}, "key", "expected a string"),
        (c.SettingsGetParams, {"key": None}, "key", "expected a string"),
        (c.SettingsSetParams, {"key": "a", "value": 14}, "value", "expected a string"),
        (c.SettingsSetParams, {"key": "a", "value": False}, "value", "expected a string"),
        (c.SettingsGetAllParams, {"prefix": 1}, "prefix", "expected a string"),
        (c.WatchParams, {"enabled": "false"}, "enabled", "expected a boolean"),
        (c.WatchParams, {"enabled": 0}, "enabled", "expected a boolean"),
        (
            c.SettingsImportParams,
            {"version": "1.0", "settings": [], "dryRun": 1},
            "dryRun",
            "expected a boolean",
        ),
        (c.SettingsGetAllParams, {"limit": True}, "limit", "expected an integer"),
        (c.SettingsGetAllParams, {"limit": "5"}, "limit", "expected an integer"),
        (c.WorkspaceListParams, {"limit": 5.0}, "limit", "expected an integer"),
        (c.InitializeParams, {"processId": True}, "processId", "expected an integer"),
        (c.InitializeParams, {"processId": "12"}, "processId", "expected an integer"),
        (c.SettingsSetManyParams, {"entries": "ab"}, "entries", "expected an array"),
        (c.SettingsSetManyParams, {"entries": ENTRY}, "entries", "expected an array"),
        (c.SettingsSetManyParams, {"entries": [["k", "v"]]}, "entries.0", "expected an object"),
        (c.WorkspaceSetParams, {"projectDir": "/a", "config": []}, "config", "expected an object"),
        (
            c.WorkspaceSetParams,
            {"projectDir": "/a", "config": "{}"},
            "config",
            "expected an object",
        ),
        (c.WorkspaceSetParams, {"projectDir": "/a", "name": 3}, "name", "expected a string"),
        (c.WorkspaceGetParams, {"projectDir": 7}, "projectDir", "expected a string"),
        (c.DaemonStatus, {**STATUS, "recovered": "no"}, "recovered", "expected an object"),
        (c.SessionStatusResponse, {"status": "done"}, "status", "expected one of"),
        (c.Message, {**MESSAGE, "role": "bot"}, "role", "expected one of"),
        (c.TextPart, {"type": "image", "text": "x"}, "type", "expected one of"),
        (c.Message, {**MESSAGE, "parts": [{"type": 1}]}, "parts.0.type", "expected a string"),
        (
            c.DashboardConfig,
            {"projectDir": "/p", "port": "80", "backendPort": 1, "open": True},
            "port",
            "expected an integer",
        ),
    ],
)
def test_wrong_types_are_refused_not_coerced(
    cls: type[Any], wire: Any, path: str, message: str
) -> None:
    errors = refusal(wire, cls)
    assert list(errors) == [path]
    assert errors[path].startswith(message)


@pytest.mark.parametrize(
    ("cls", "wire", "path"),
    [
        (c.SettingsSetParams, {"key": "a"}, "value"),
        (c.SettingsGetParams, {}, "key"),
        (c.SettingsSetManyParams, {"entries": [ENTRY, {"key": "b"}]}, "entries.1.value"),
        (c.SettingsImportParams, {"settings": []}, "version"),
        (c.WorkspaceConfig, {k: v for k, v in WORKSPACE.items() if k != "config"}, "config"),
        (c.Part, {"id": "p"}, "type"),
        (c.SessionMessage, {"info": {**MESSAGE, "id": "m"}}, "parts"),
        (c.Session, {k: v for k, v in SESSION.items() if k != "createdAt"}, "createdAt"),
    ],
)
def test_missing_required_field(cls: type[Any], wire: Any, path: str) -> None:
    assert refusal(wire, cls) == {path: "missing required field"}


@pytest.mark.parametrize(
    ("cls", "wire", "paths"),
    [
        (c.SettingsGetParams, {"key": "a", "extra": 1}, ["extra"]),
        (c.SettingsGetParams, {"key": "a", "Key": "b", "k_ey": 2}, ["Key", "k_ey"]),
        (c.SettingsExportParams, {"all": True}, ["all"]),
        (c.DaemonStatusParams, {"verbose": True}, ["verbose"]),
        (c.SettingsGetAllParams, {"project_dir": "/a"}, ["project_dir"]),
        (c.SettingsSetManyParams, {"entries": [ENTRY, {**ENTRY, "extra": 1}]}, ["entries.1.extra"]),
        (
            c.SettingsImportParams,
            {"version": "1.0", "settings": [{**ENTRY, "updatedAt": T}]},
            ["settings.0.updatedAt"],
        ),
        (c.DaemonStatus, {**STATUS, "recovered": {**RECOVERY, "why": "x"}}, ["recovered.why"]),
        (c.Message, {**MESSAGE, "createdBy": "x"}, ["createdBy"]),
        (
            c.InitializeResult,
            {
                "capabilities": {"experimental": {"idumb": {**IDUMB, "x": 1}}},
                "serverInfo": {"name": "n", "version": "v"},
            },
            ["capabilities.experimental.idumb.x"],
        ),
    ],
)
def test_unknown_fields_are_refused_at_any_depth(
    cls: type[Any], wire: Any, paths: list[str]
) -> None:
    assert refusal(wire, cls) == dict.fromkeys(paths, "unknown field")


@pytest.mark.parametrize(
    "time",
    [
        "2026-11-26 01:10:58",
        "2026-11-26 01:10:58Z",
        "2026-11-26T01:10:58",
        "2026-11-26T01:10:58.5Z",
        "2026-11-26T01:10:58.000Z",
        "2026-11-26T01:10:58+00:00",
        "2026-11-26T02:10:58+01:00",
        "2026-11-26t01:10:58z",
        "2026-11-26T01:10Z",
        "2026-11-26",
        "2026-11-26T01:10:58Z\n",
        " 2026-11-26T01:10:58Z",
        "\u0662\u0660\u0662\u0666-11-26T01:10:58Z",
        "2026-13-26T01:10:58Z",
        "2026-02-30T01:10:58Z",
        "2026-11-26T24:00:00Z",
        "2026-11-26T23:59:60Z",
        "",
        1764119458,
        [T],
    ],
)
def test_bad_times_are_refused(time: Any) -> None:
    assert list(refusal({**STORED, "updatedAt": time}, c.SettingsEntry)) == ["updatedAt"]
    assert list(refusal({**RECOVERY, "at": time}, c.RecoveryInfo)) == ["at"]


def test_null_is_no_time_where_a_time_is_required() -> None:
    assert list(refusal({**RECOVERY, "at": None}, c.RecoveryInfo)) == ["at"]


def test_times_on_the_wire() -> None:
    assert structure(
        {**STORED, "updatedAt": "0001-01-01T00:00:00Z"}, c.SettingsEntry
    ).updated_at == (datetime(1, 1, 1, tzinfo=UTC))
    plus_one = timezone(timedelta(hours=1))
    entry = c.SettingsEntry(
        key="k",
        value="v",
        updated_at=datetime(2026, 11, 26, 2, 10, 58, tzinfo=plus_one),
        revision=1,
        project_dir=None,
    )
    assert unstructure(entry)["updatedAt"] == T
    assert (
        unstructure(c.RecoveryInfo(from_="a", at=datetime(5, 1, 1, tzinfo=UTC), corrupt_file="b"))[
            "at"
        ]
        == "0005-01-01T00:00:00Z"
    )
    with pytest.raises(ValueError, match="naive"):
        unstructure(
            c.SettingsEntry(
                key="k", value="v", updated_at=datetime(2026, 11, 26), revision=1, project_dir=None
            )
        )
    with pytest.raises(ValueError, match="whole seconds"):
        unstructure(
            c.SettingsEntry(
                key="k",
                value="v",
                updated_at=datetime(2026, 11, 26, microsecond=1, tzinfo=UTC),
                revision=1,
                project_dir=None,
            )
        )


# --- limits -------------------------------------------------------------------------------


def test_key_length_edges() -> None:
    assert structure({"key": "k" * 512}, c.SettingsGetParams).key == "k" * 512
    assert structure({"key": "😀" * 512}, c.SettingsGetParams).key == "😀" * 512
    assert refusal({"key": "k" * 513}, c.SettingsGetParams) == {
        "key": "longer than 512 code points"
    }
    assert list(refusal({"key": ""}, c.SettingsGetParams)) == ["key"]


@pytest.mark.parametrize("char", ["\x00", "\x01", "\n", "\t", "\x1f", "\x7f"])
def test_keys_with_control_characters_are_refused(char: str) -> None:
    assert list(refusal({"key": f"a{char}b", "value": "v"}, c.SettingsSetParams)) == ["key"]
    assert list(
        refusal({"entries": [ENTRY, {"key": char, "value": "v"}]}, c.SettingsSetManyParams)
    ) == ["entries.1.key"]


def test_other_characters_are_fine_in_keys() -> None:
    for key in [" ", "\x80", "\u2028", "a.b/c:d", "%_", "\U0010ffff"]:
        assert structure({"key": key}, c.SettingsDeleteParams).key == key


@pytest.mark.parametrize("unit", ["a", "é", "€", "😀"])
def test_value_size_edge_in_utf8_bytes(unit: str) -> None:
    width = len(unit.encode())
    at_limit = unit * (MIB // width) + "a" * (MIB % width)
    assert len(at_limit.encode()) == MIB
    assert structure({"key": "k", "value": at_limit}, c.SettingsSetParams).value == at_limit
    over = at_limit + "a"
    assert refusal({"key": "k", "value": over}, c.SettingsSetParams) == {
        "value": "larger than 1048576 bytes as UTF-8"
    }
    assert list(refusal({"entries": [{"key": "k", "value": over}]}, c.SettingsSetManyParams)) == [
        "entries.0.value"
    ]


def test_config_size_edge_as_compact_json() -> None:
    shell = len(json.dumps({"k": "é"}, separators=(",", ":"), ensure_ascii=False).encode()) - 2
    at_limit = {"k": "é" * ((MIB - shell) // 2)}
    assert (MIB - shell) % 2 == 0
    assert len(json.dumps(at_limit, separators=(",", ":"), ensure_ascii=False).encode()) == MIB
    params = structure({"projectDir": "/a", "config": at_limit}, c.WorkspaceSetParams)
    assert params.config == at_limit
    over = {"k": at_limit["k"] + "a"}
    assert refusal({"projectDir": "/a", "config": over}, c.WorkspaceSetParams) == {
        "config": "larger than 1048576 bytes as compact JSON"
    }


@pytest.mark.parametrize(
    ("config", "path"),
    [
        ({"a": float("nan")}, "config.a"),
        ({"a": [1, float("inf")]}, "config.a.1"),
        ({"a": {"b": [None, {"c": "\ud800"}]}}, "config.a.b.1.c"),
        ({"a": {"\udfff": 1}}, "config.a.\\udfff"),
    ],
)
def test_config_content_must_be_json_of_scalar_values(config: dict[str, Any], path: str) -> None:
    assert list(refusal({"projectDir": "/a", "config": config}, c.WorkspaceSetParams)) == [path]


@pytest.mark.parametrize(
    ("cls", "wire", "path"),
    [
        (c.SettingsGetParams, {"key": "a\ud800"}, "key"),
        (c.SettingsSetParams, {"key": "a", "value": "x\udc00y"}, "value"),
        (c.SettingsSetParams, {"key": "a", "value": "é\udc00"}, "value"),
        (c.SettingsGetAllParams, {"prefix": "\ud83d"}, "prefix"),
        (c.WorkspaceSetParams, {"projectDir": "/a", "name": "\ud800"}, "name"),
        (c.WorkspaceGetParams, {"projectDir": "/\ud800"}, "projectDir"),
        (c.SettingsEntry, {**STORED, "value": "\ud800", "updatedAt": None}, "value"),
        (c.Part, {"type": "t", "deep": [{"x": "\ud800"}]}, "deep.0.x"),
        (c.Event, {"type": "\ud800"}, "type"),
    ],
)
def test_lone_surrogates_are_refused(cls: type[Any], wire: Any, path: str) -> None:
    errors = refusal(wire, cls)
    assert list(errors) == [path]
    assert "surrogate" in errors[path]


def test_surrogate_pairs_decoded_by_json_are_fine() -> None:
    wire = json.loads('{"key": "\\ud83d\\ude00", "value": "\\ud83d\\ude00"}')
    assert structure(wire, c.SettingsSetParams).key == "😀"


def test_unknown_field_named_with_a_lone_surrogate_is_reported_sendably() -> None:
    errors = refusal({"key": "a", "\ud800": 1}, c.SettingsGetParams)
    assert errors == {"\\ud800": "unknown field"}
    json.dumps(errors, ensure_ascii=False).encode()


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("/", "/"),
        ("//", "/"),
        ("///", "/"),
        ("/..", "/"),
        ("/../..", "/"),
        ("/.", "/"),
        ("/a", "/a"),
        ("/a/", "/a"),
        ("//a", "/a"),
        ("///a", "/a"),
        ("//a//b/./c/../d/", "/a/b/d"),
        ("/a/b/..", "/a"),
        ("/a/../../b", "/b"),
        ("/../a", "/a"),
        ("/a/./b/.", "/a/b"),
        ("/a/.../b", "/a/.../b"),
        ("/a/..b/c", "/a/..b/c"),
        ("/home/ada/Ünïcode dir/ü", "/home/ada/Ünïcode dir/ü"),
        ("/a\\b", "/a\\b"),
    ],
)
def test_project_dir_normalisation(given: str, normal: str) -> None:
    wire = {"projectDir": given}
    assert structure(wire, c.WorkspaceGetParams).project_dir == normal
    assert structure(wire, c.WorkspaceOpenParams).project_dir == normal
    assert structure(wire, c.WorkspaceDeleteParams).project_dir == normal
    assert structure(wire, c.WorkspaceSetParams).project_dir == normal


@pytest.mark.parametrize(
    "given",
    ["", "a", "a/b", "./a", "../a", "~/a", "C:\\a", " /a", "/a\x00b", "/" * 4097, "/" + "a" * 4096],
)
def test_project_dir_refused(given: str) -> None:
    assert list(refusal({"projectDir": given}, c.WorkspaceOpenParams)) == ["projectDir"]


def test_project_dir_length_edge() -> None:
    longest = "/" + "a" * 4095
    assert structure({"projectDir": longest}, c.WorkspaceGetParams).project_dir == longest
    assert refusal({"projectDir": longest + "a"}, c.WorkspaceGetParams) == {
        "projectDir": "longer than 4096 code points"
    }


@pytest.mark.parametrize(
    ("cls", "field", "low", "high"),
    [
        (c.SettingsSetManyParams, "entries", 1, 10_000),
        (c.SettingsImportParams, "settings", 0, 100_000),
    ],
)
def test_entry_count_edges(cls: type[Any], field: str, low: int, high: int) -> None:
    base = {"version": "1.0"} if cls is c.SettingsImportParams else {}
    assert len(getattr(structure({**base, field: entries(high)}, cls), field)) == high
    assert len(getattr(structure({**base, field: entries(low)}, cls), field)) == low
    assert list(refusal({**base, field: entries(high + 1)}, cls)) == [field]
    if low:
        assert list(refusal({**base, field: entries(low - 1)}, cls)) == [field]


@pytest.mark.parametrize(
    ("cls", "field"), [(c.SettingsSetManyParams, "entries"), (c.SettingsImportParams, "settings")]
)
def test_duplicate_keys_are_refused_at_the_repeat(cls: type[Any], field: str) -> None:
    base = {"version": "1.0"} if cls is c.SettingsImportParams else {}
    listed = [*entries(3), {"key": "k1", "value": "other"}]
    errors = refusal({**base, field: listed}, cls)
    assert list(errors) == [f"{field}.3.key"]
    assert errors[f"{field}.3.key"].startswith("duplicate key")


@pytest.mark.parametrize("version", ["1.1", "1", "", 1.0, 1, None])
def test_import_version_must_be_1_0(version: Any) -> None:
    assert list(refusal({"version": version, "settings": []}, c.SettingsImportParams)) == [
        "version"
    ]


@pytest.mark.parametrize(
    ("cls", "good", "bad"),
    [
        (c.SettingsGetAllParams, [1, 10_000], [0, -1, 10_001]),
        (c.WorkspaceListParams, [1, 50, 1000], [0, -5, 1001]),
    ],
)
def test_limit_bounds(cls: type[Any], good: list[int], bad: list[int]) -> None:
    for limit in good:
        assert structure({"limit": limit}, cls).limit == limit
    for limit in bad:
        assert refusal({"limit": limit}, cls) == {"limit": f"out of range 1..{max(good)}"}


# --- error reports ------------------------------------------------------------------------


def test_every_failing_field_is_reported_with_a_dotted_path() -> None:
    wire = {
        "entries": [
            ENTRY,
            {"key": 5, "value": "v"},
            {"key": "b"},
            {"key": "c" * 513, "value": "v", "extra": True},
        ],
        "other": 1,
    }
    assert refusal(wire, c.SettingsSetManyParams) == {
        "entries.1.key": "expected a string",
        "entries.2.value": "missing required field",
        "entries.3.key": "longer than 512 code points",
        "entries.3.extra": "unknown field",
        "other": "unknown field",
    }


def test_params_invalid_reads_well() -> None:
    with pytest.raises(ParamsInvalid) as caught:
        structure({"key": 1, "value": "v"}, c.SettingsSetParams)
    assert str(caught.value) == "key: expected a string"
    assert unstructure(c.InvalidParamsData(errors=caught.value.errors)) == {
        "errors": [{"path": "key", "message": "expected a string"}]
    }


# --- the method table ---------------------------------------------------------------------


def test_method_table_covers_the_protocol() -> None:
    assert set(c.METHODS) == {
        "initialize",
        "shutdown",
        "settings/get",
        "settings/set",
        "settings/delete",
        "settings/getAll",
        "settings/setMany",
        "settings/declare",
        "settings/declarations",
        "settings/resolve",
        "settings/inspect",
        "settings/export",
        "settings/import",
        "workspaceConfig/get",
        "workspaceConfig/set",
        "workspaceConfig/open",
        "workspaceConfig/list",
        "workspaceConfig/delete",
        "daemon/status",
        "daemon/watch",
    }
    assert c.METHODS["shutdown"] == c.Method(name="shutdown", params=None, result=None)
    assert {m.name for m in c.METHODS.values() if m.writes} == {
        "settings/set",
        "settings/delete",
        "settings/setMany",
        "settings/import",
        "settings/declare",
        "workspaceConfig/set",
        "workspaceConfig/open",
        "workspaceConfig/delete",
    }
    assert set(c.NOTIFICATIONS) == {"settings/didChange", "workspaceConfig/didChange"}
    assert c.PROTOCOL_VERSION == 2
    for name, method in c.METHODS.items():
        if method.params is not None:
            # Methods whose fields are all optional accept omitted params (sent as {}).
            all_optional = all(a.default is not attrs.NOTHING for a in attrs.fields(method.params))
            if all_optional:
                structure({}, method.params)
            else:
                assert refusal({}, method.params), name


# --- properties ---------------------------------------------------------------------------

_text = st.text(st.characters(exclude_categories=["Cs"]))
_keys = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters=[*map(chr, range(32)), "\x7f"]),
    min_size=1,
    max_size=512,
)
_times = st.none() | st.datetimes(timezones=st.just(UTC)).map(lambda t: t.replace(microsecond=0))
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)
_segment = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters=["/", "\x00"]),
    min_size=1,
    max_size=12,
).filter(lambda s: s not in {".", ".."})
_project_dirs = st.lists(_segment, max_size=6).map(lambda parts: "/" + "/".join(parts))


def _over_the_wire(obj: Any) -> Any:
    return structure(json.loads(json.dumps(unstructure(obj))), type(obj))


@given(
    st.builds(
        c.SettingsEntry,
        key=_keys,
        value=_text,
        updated_at=_times,
        revision=st.integers(0, 2**63 - 1),
        project_dir=st.none(),
    )
)
def test_any_valid_settings_entry_round_trips(entry: c.SettingsEntry) -> None:
    assert _over_the_wire(entry) == entry


@given(
    st.builds(
        c.WorkspaceConfig,
        project_dir=_project_dirs,
        name=st.none() | _text,
        last_opened=_times,
        config=st.none() | st.dictionaries(_text, _json, max_size=5),
    )
)
def test_any_valid_workspace_config_round_trips(workspace: c.WorkspaceConfig) -> None:
    assert _over_the_wire(workspace) == workspace


@given(st.text(st.sampled_from("/.ab"), max_size=20).map(lambda s: "/" + s))
def test_project_dir_normalisation_is_a_fixed_point(given_dir: str) -> None:
    normal = structure({"projectDir": given_dir}, c.WorkspaceGetParams).project_dir
    assert structure({"projectDir": normal}, c.WorkspaceGetParams).project_dir == normal
    assert normal == "/" or not normal.endswith("/")
    assert "//" not in normal
    assert "." not in normal.split("/") and ".." not in normal.split("/")
