"""The settings model of PROTOCOL.md v2 over the wire, on SQLite and
PostgreSQL: declarations, the value encoding, validation on every write,
resolution and inspection, with rows other programs wrote."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import DaemonFactory
from tests.pg import run_sql
from tests.test_watch_e2e import bare, next_changes, watcher
from tests.wire import Wire

DECLARED: dict[str, Any] = {
    "editor.fontSize": {"type": "integer", "minimum": 6, "default": 14},
    "editor.rulers": {"type": "array", "items": {"type": "integer"}, "default": []},
    "editor.font": {"type": "object", "default": {"z": 1, "a": "é"}},
    "theme": {"enum": ["dark", "light"], "default": "dark", "description": "Colours"},
    "files.exclude": {"type": "string"},
    "old.size": {"type": "integer", "deprecated": True, "renamedTo": "editor.fontSize"},
    "no.default": {"type": "boolean"},
}


def declare(daemon: Wire, settings: dict[str, Any] = DECLARED, owner: str = "ide") -> Any:
    return daemon.result("settings/declare", {"owner": owner, "settings": settings})


def invalid(daemon: Wire, method: str, params: Any) -> dict[str, str]:
    """The -32602 refusal of a request: its errors, path to message."""
    error = daemon.error(method, params)
    assert error["code"] == -32602, error
    return {e["path"]: e["message"] for e in error["data"]["errors"]}


def stored(url: str) -> dict[str, str]:
    return dict(run_sql(url, "SELECT key, value FROM settings"))


def test_declarations_are_listed_as_given_and_replaced_per_owner(
    spawn_any: DaemonFactory,
) -> None:
    daemon = spawn_any()
    assert declare(daemon) == {"declared": len(DECLARED)}
    listed = daemon.result("settings/declarations")
    assert [d["key"] for d in listed] == sorted(DECLARED)
    assert {d["key"]: d["declaration"] for d in listed} == DECLARED
    font = next(d for d in listed if d["key"] == "editor.font")["declaration"]
    assert list(font) == ["type", "default"] and list(font["default"]) == ["z", "a"]
    assert {d["owner"] for d in listed} == {"ide"}
    editor = daemon.result("settings/declarations", {"prefix": "editor."})
    assert [d["key"] for d in editor] == ["editor.font", "editor.fontSize", "editor.rulers"]

    # Another owner may not take a key; an owner's declare replaces its whole set.
    assert invalid(daemon, "settings/declare", {"owner": "ext", "settings": {"theme": {}}}) == {
        "settings.theme": "declared by another owner, 'ide'"
    }
    assert declare(daemon, {"ext.on": {"type": "boolean"}}, owner="ext") == {"declared": 1}
    assert declare(daemon, {"theme": {"type": "string"}}) == {"declared": 1}
    assert [(d["key"], d["owner"]) for d in daemon.result("settings/declarations")] == [
        ("ext.on", "ext"),
        ("theme", "ide"),
    ]


def test_declarations_that_are_not_valid_schemas_or_over_the_bounds_are_refused(
    spawn_any: DaemonFactory,
) -> None:
    daemon = spawn_any()
    bad = {
        "a": {"type": 5},
        "b": {"type": "integer", "default": "x"},
        "c": {"minimum": "six"},
    }
    refused = invalid(daemon, "settings/declare", {"owner": "ide", "settings": bad})
    assert set(refused) == {"settings.a", "settings.b.default", "settings.c"}
    assert refused["settings.b.default"] == "'x' is not of type 'integer'"
    for declaration, path in [
        ({"scope": "team"}, "settings.k.scope"),
        ({"renamedTo": 3}, "settings.k.renamedTo"),
        ({"deprecationMessage": False}, "settings.k.deprecationMessage"),
        ({"deprecated": "yes"}, "settings.k.deprecated"),
        ({"description": 1}, "settings.k.description"),
        ({"default": "x" * 65_536}, "settings.k"),
        ([], "settings.k"),
    ]:
        params = {"owner": "ide", "settings": {"k": declaration}}
        assert list(invalid(daemon, "settings/declare", params)) == [path], declaration
    many: dict[str, Any] = {f"k{i}": {} for i in range(10_001)}
    assert list(invalid(daemon, "settings/declare", {"owner": "ide", "settings": many})) == [
        "settings"
    ]
    assert list(invalid(daemon, "settings/declare", {"owner": "", "settings": {}})) == ["owner"]
    assert list(invalid(daemon, "settings/declare", {"owner": "x" * 257, "settings": {}})) == [
        "owner"
    ]
    assert daemon.result("settings/declarations") == []
    # At the bounds: accepted.
    at_bounds: dict[str, Any] = {f"k{i}": {} for i in range(9_999)}
    at_bounds["big"] = {"description": "x" * (65_536 - len('{"description":""}'))}
    assert declare(daemon, at_bounds) == {"declared": 10_000}


def test_values_of_declared_keys_are_encoded_and_validated_on_every_write(
    spawn_any: DaemonFactory, database_url: str
) -> None:
    daemon = spawn_any()
    declare(daemon)
    daemon.result("settings/set", {"key": "theme", "value": "light"})
    daemon.result("settings/set", {"key": "files.exclude", "value": "[1, 2]"})
    entry = daemon.result("settings/set", {"key": "editor.rulers", "value": "[80, 120]"})
    assert entry["value"] == "[80,120]"
    daemon.result(
        "settings/setMany",
        {
            "entries": [
                {"key": "editor.font", "value": '{ "z" : 2, "a": "ü" }'},
                {"key": "undeclared", "value": " [ 1 ] "},
            ]
        },
    )
    assert stored(database_url) == {
        "theme": "light",
        "files.exclude": "[1, 2]",
        "editor.rulers": "[80,120]",
        "editor.font": '{"z":2,"a":"ü"}',
        "undeclared": " [ 1 ] ",
    }

    assert invalid(daemon, "settings/set", {"key": "editor.fontSize", "value": "5"}) == {
        "value": "5 is less than the minimum of 6"
    }
    assert invalid(daemon, "settings/set", {"key": "theme", "value": "blue"}) == {
        "value": "'blue' is not one of ['dark', 'light']"
    }
    assert list(invalid(daemon, "settings/set", {"key": "editor.fontSize", "value": "x"})) == [
        "value"
    ]
    for text in ("NaN", "1e999", '"14"'):
        refused = invalid(daemon, "settings/set", {"key": "editor.fontSize", "value": text})
        assert list(refused) == ["value"], text
    entries = [
        {"key": "a", "value": "1"},
        {"key": "editor.fontSize", "value": "20"},
        {"key": "b", "value": "2"},
        {"key": "editor.rulers", "value": "[1, 2.5]"},
        {"key": "no.default", "value": "1"},
    ]
    assert invalid(daemon, "settings/setMany", {"entries": entries}) == {
        "entries.3.value": "at /1: 2.5 is not of type 'integer'",
        "entries.4.value": "1 is not of type 'boolean'",
    }
    export = {
        "version": "1.0",
        "settings": [{"key": "c", "value": "3"}, {"key": "no.default", "value": "yes"}],
    }
    assert list(invalid(daemon, "settings/import", export)) == ["settings.1.value"]
    assert list(invalid(daemon, "settings/import", {**export, "dryRun": True})) == [
        "settings.1.value"
    ]
    assert set(stored(database_url)) == {
        "theme",
        "files.exclude",
        "editor.rulers",
        "editor.font",
        "undeclared",
    }
    # An import compares the stored form: the same value re-spelled is unchanged.
    again = {"version": "1.0", "settings": [{"key": "editor.rulers", "value": "[ 80, 120 ]"}]}
    assert daemon.result("settings/import", again) == {
        "imported": 1,
        "added": [],
        "changed": [],
        "removed": [],
    }


def test_resolve_and_inspect_over_default_and_user_layers(
    spawn_any: DaemonFactory, database_url: str
) -> None:
    daemon = spawn_any()
    declare(daemon)
    daemon.result("settings/set", {"key": "editor.rulers", "value": "[80]"})
    daemon.result("settings/set", {"key": "plain", "value": "14"})
    daemon.result("settings/set", {"key": "old.size", "value": "16"})
    # Written behind the daemon's back, as the app or the sqlite3 shell may.
    run_sql(database_url, "INSERT INTO settings (key, value) VALUES ('theme', 'purple')")
    run_sql(database_url, "INSERT INTO settings (key, value) VALUES ('no.default', '{')")

    every = {r["key"]: r for r in daemon.result("settings/resolve")}
    assert sorted(every) == sorted([*DECLARED, "plain"])
    for r in every.values():
        assert r["revision"] is None or type(r["revision"]) is int
        r.pop("revision")
    assert every["editor.rulers"] == {"key": "editor.rulers", "value": [80], "source": "user"}
    assert every["plain"] == {"key": "plain", "value": "14", "source": "user"}
    assert every["editor.fontSize"] == {
        "key": "editor.fontSize",
        "value": 16,
        "source": "user",
        "from": "old.size",
    }
    assert every["editor.font"] == {
        "key": "editor.font",
        "value": {"z": 1, "a": "é"},
        "source": "default",
    }
    assert every["theme"] == {
        "key": "theme",
        "value": "dark",
        "source": "default",
        "problems": [{"layer": "user", "message": "'purple' is not one of ['dark', 'light']"}],
    }
    assert every["no.default"]["source"] == "none" and every["no.default"]["value"] is None
    assert [p["layer"] for p in every["no.default"]["problems"]] == ["user"]
    assert every["files.exclude"] == {"key": "files.exclude", "value": None, "source": "none"}

    some = daemon.result("settings/resolve", {"keys": ["zzz", "theme", "editor.rulers"]})
    assert [(r["key"], r["source"]) for r in some] == [
        ("editor.rulers", "user"),
        ("theme", "default"),
        ("zzz", "none"),
    ]
    assert some[0]["revision"] == every["editor.rulers"].get("revision", some[0]["revision"])
    assert [r["key"] for r in daemon.result("settings/resolve", {"prefix": "editor.r"})] == [
        "editor.rulers"
    ]
    both = {"keys": ["a"], "prefix": "a"}
    assert invalid(daemon, "settings/resolve", both) == {"prefix": "not with keys"}
    assert list(invalid(daemon, "settings/resolve", {"keys": ["a", "a"]})) == ["keys.1"]

    theme = daemon.result("settings/inspect", {"key": "theme"})
    assert theme["user"]["value"] == "purple"
    del theme["user"]
    assert theme == {
        "key": "theme",
        "owner": "ide",
        "declaration": DECLARED["theme"],
        "default": "dark",
        "workspace": None,
        "value": "dark",
        "source": "default",
        "problems": [{"layer": "user", "message": "'purple' is not one of ['dark', 'light']"}],
    }
    assert daemon.result("settings/inspect", {"key": "nothing"}) == {
        "key": "nothing",
        "owner": None,
        "declaration": None,
        "default": None,
        "user": None,
        "workspace": None,
        "value": None,
        "source": "none",
        "problems": [],
    }
    renamed = daemon.result("settings/inspect", {"key": "editor.fontSize"})
    assert (renamed["user"], renamed["value"], renamed["source"]) == (None, 16, "user")
    # The daemon still serves everything else.
    assert daemon.result("settings/get", {"key": "theme"})["value"] == "purple"


def test_two_daemons_see_one_owners_declarations_and_restarts_keep_them(
    spawn_any: DaemonFactory,
) -> None:
    first, second = spawn_any(), spawn_any()
    # The second has read (and cached) the empty set before the first declares.
    assert second.result("settings/declarations") == []
    assert second.result("settings/set", {"key": "size", "value": "x"})["value"] == "x"
    declare(first, {"size": {"type": "integer", "default": 1}})
    assert [d["key"] for d in second.result("settings/declarations")] == ["size"]
    assert invalid(second, "settings/set", {"key": "size", "value": "1.5"}) == {
        "value": "1.5 is not of type 'integer'"
    }
    assert second.result("settings/resolve", {"keys": ["size"]})[0]["value"] == 1
    # A new declaration by the first replaces what the second validates with.
    declare(first, {"size": {"type": "string"}})
    assert second.result("settings/set", {"key": "size", "value": "y"})["value"] == "y"
    assert first.stop() == 0 and second.stop() == 0
    third = spawn_any()
    listed = third.result("settings/declarations")
    assert [(d["key"], d["owner"], d["declaration"]) for d in listed] == [
        ("size", "ide", {"type": "string"})
    ]
    assert (
        json.loads(json.dumps(third.result("settings/resolve", {"keys": ["size"]})))[0]["value"]
        == "y"
    )


def test_the_workspace_layer_is_read_and_written_with_project_dir(
    spawn_any: DaemonFactory, database_url: str
) -> None:
    daemon = spawn_any()
    declare(daemon, {**DECLARED, "ui.zoom": {"type": "number", "scope": "user", "default": 1}})
    project = "/home/u//proj/./src/.."
    entry = daemon.result(
        "settings/set", {"key": "editor.rulers", "value": "[ 100 ]", "projectDir": project}
    )
    assert entry["projectDir"] == "/home/u/proj" and entry["value"] == "[100]"
    assert type(entry["revision"]) is int and entry["revision"] > 0
    assert daemon.result("settings/get", {"key": "editor.rulers"}) is None
    got = daemon.result("settings/get", {"key": "editor.rulers", "projectDir": "/home/u/proj/"})
    assert got == entry
    daemon.result("settings/set", {"key": "editor.rulers", "value": "[80]"})
    many = daemon.result(
        "settings/setMany",
        {
            "entries": [{"key": "theme", "value": "light"}, {"key": "plain", "value": " x "}],
            "projectDir": "/home/u/proj",
        },
    )
    assert [(e["key"], e["projectDir"]) for e in many] == [
        ("theme", "/home/u/proj"),
        ("plain", "/home/u/proj"),
    ]
    listed = daemon.result("settings/getAll", {"projectDir": "/home/u/proj"})
    assert [e["key"] for e in listed] == ["editor.rulers", "plain", "theme"]
    assert [e["key"] for e in daemon.result("settings/getAll", {})] == ["editor.rulers"]
    assert daemon.result("settings/getAll", {"projectDir": "/other"}) == []
    assert sorted(
        run_sql(database_url, "SELECT project_dir, key, value FROM workspace_settings")
    ) == [
        ("/home/u/proj", "editor.rulers", "[100]"),
        ("/home/u/proj", "plain", " x "),
        ("/home/u/proj", "theme", "light"),
    ]

    # Validation holds in the workspace layer; a key of scope "user" refuses it.
    in_project = {"projectDir": "/home/u/proj"}
    assert invalid(daemon, "settings/set", {"key": "theme", "value": "x", **in_project}) == {
        "value": "'x' is not one of ['dark', 'light']"
    }
    assert invalid(daemon, "settings/set", {"key": "ui.zoom", "value": "2", **in_project}) == {
        "key": 'declared with scope "user": it has no workspace value'
    }
    entries = [{"key": "a", "value": "1"}, {"key": "ui.zoom", "value": "2"}]
    assert list(invalid(daemon, "settings/setMany", {"entries": entries, **in_project})) == [
        "entries.1.key"
    ]
    assert daemon.result("settings/set", {"key": "ui.zoom", "value": "2"})["value"] == "2"
    # Written by another program: a delete of a "user" key's workspace value stays allowed.
    run_sql(
        database_url,
        "INSERT INTO workspace_settings (project_dir, key, value) VALUES (?, ?, ?)",
        "/home/u/proj",
        "ui.zoom",
        "3",
    )
    zoom = daemon.result("settings/resolve", {"keys": ["ui.zoom"], **in_project})[0]
    assert (zoom["value"], zoom["source"]) == (2, "user")
    assert [p["layer"] for p in zoom["problems"]] == ["workspace"]
    deleted = daemon.result("settings/delete", {"key": "ui.zoom", **in_project})
    assert deleted == {"deleted": True}
    assert daemon.result("settings/delete", {"key": "plain", **in_project}) == {"deleted": True}


def test_resolve_and_inspect_put_the_workspace_layer_on_top(
    spawn_any: DaemonFactory, database_url: str
) -> None:
    daemon = spawn_any()
    declare(daemon)
    project = {"projectDir": "/w/p"}
    user = daemon.result("settings/set", {"key": "editor.rulers", "value": "[80]"})
    ws = daemon.result("settings/set", {"key": "editor.rulers", "value": "[120]", **project})
    daemon.result("settings/set", {"key": "theme", "value": "light"})
    daemon.result("settings/set", {"key": "old.size", "value": "20", **project})
    daemon.result("settings/set", {"key": "only.here", "value": "w", **project})
    run_sql(
        database_url,
        "INSERT INTO workspace_settings (project_dir, key, value) VALUES ('/w/p', 'theme', 'red')",
    )

    resolved = {r["key"]: r for r in daemon.result("settings/resolve", project)}
    assert sorted(resolved) == sorted([*DECLARED, "only.here"])
    assert resolved["editor.rulers"] == {
        "key": "editor.rulers",
        "value": [120],
        "source": "workspace",
        "revision": ws["revision"],
    }
    theme = resolved["theme"]
    assert (theme["value"], theme["source"]) == ("light", "user")
    assert theme["problems"] == [
        {"layer": "workspace", "message": "'red' is not one of ['dark', 'light']"}
    ]
    size = resolved["editor.fontSize"]
    assert (size["value"], size["source"], size["from"]) == (20, "workspace", "old.size")
    assert resolved["only.here"]["value"] == "w"
    user_only = daemon.result("settings/resolve", {"keys": ["editor.rulers"]})
    assert user_only[0]["revision"] == user["revision"]
    assert user_only[0]["value"] == [80]
    assert "only.here" not in {r["key"] for r in daemon.result("settings/resolve", {})}

    inspected = daemon.result("settings/inspect", {"key": "theme", **project})
    assert inspected["user"]["value"] == "light"
    assert inspected["workspace"]["value"] == "red"
    assert inspected["workspace"]["projectDir"] == "/w/p"
    assert (inspected["value"], inspected["source"]) == ("light", "user")
    assert [p["layer"] for p in inspected["problems"]] == ["workspace"]


def test_workspace_layer_changes_are_notified_with_their_project(spawn: DaemonFactory) -> None:
    a = watcher(spawn)
    b = spawn()
    entry = b.result("settings/set", {"key": "k", "value": "v", "projectDir": "/p/q"})
    assert next_changes(a) == [bare(entry)]
    assert bare(entry)["projectDir"] == "/p/q"
    b.result("settings/delete", {"key": "k", "projectDir": "/p/q"})
    assert next_changes(a) == [{"key": "k", "value": None, "updatedAt": None, "projectDir": "/p/q"}]
    assert a.stop() == 0 and b.stop() == 0
