"""Declarations and the value encoding in process, on a SQLite file: which
declarations store strings as themselves, that validators are compiled once
and the registry is read again only when a declare changed it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from idumb_daemon.contracts import ParamsInvalid, SettingsSetManyEntry
from idumb_daemon.protocol.server import open_storage
from idumb_daemon.storage import Storage, declarations, settings, values
from idumb_daemon.storage.declarations import Refused, _declared, _validator, compact
from idumb_daemon.storage.tx import Tx


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    store = open_storage("sqlite:///" + str(tmp_path / "idumb.db"))
    store.open()
    yield store
    store.close()


def declared(declaration: dict[str, Any]) -> declarations.Declared:
    return _declared("k", "o", compact(declaration))


@pytest.mark.parametrize(
    ("declaration", "as_string"),
    [
        ({"type": "string"}, True),
        ({"enum": ["a", "b"]}, True),
        ({"type": "string", "enum": ["a"]}, True),
        ({"enum": ["a", 1]}, False),
        ({"enum": []}, False),
        ({"type": ["string", "null"]}, False),
        ({"type": "integer"}, False),
        ({}, False),
    ],
)
def test_strings_are_stored_as_themselves_only_for_string_declarations(
    declaration: dict[str, Any], as_string: bool
) -> None:
    assert declared(declaration).as_string is as_string


def test_other_values_are_stored_as_compact_json_in_the_order_given() -> None:
    anything = declared({})
    assert anything.encode(' { "z" : [1, 2.5],  "a": "ü\\u00e9" } ') == '{"z":[1,2.5],"a":"üé"}'
    assert anything.encode('"text"') == '"text"'
    assert anything.encode("true") == "true"
    for text in ("NaN", "Infinity", "1e999", "[1,", "text"):
        with pytest.raises(Refused):
            anything.encode(text)
    assert declared({"type": "string", "maxLength": 3}).encode("a b") == "a b"
    with pytest.raises(Refused, match="is too long"):
        declared({"type": "string", "maxLength": 3}).encode("long")


def test_a_validator_is_compiled_once_per_declaration(storage: Storage) -> None:
    _validator.cache_clear()
    schema = {"k": {"type": "integer"}, "l": {"type": "integer"}}
    storage.write(declarations.declare, "o", schema)
    for i in range(50):
        storage.write(settings.set_, "k", str(i))
        storage.read(values.resolve, ["k", "l"], None)
    assert _validator.cache_info().misses == 1  # one text, declared twice


def test_the_registry_is_read_again_only_after_a_declare(storage: Storage) -> None:
    storage.write(declarations.declare, "o", {"k": {"type": "integer"}})
    first = storage.read(declarations.registry)
    assert storage.read(declarations.registry) is first
    storage.write(declarations.declare, "o", {"k": {"type": "string"}})
    second = storage.read(declarations.registry)
    assert second is not first and second.by_key["k"].as_string


def test_a_refused_write_in_a_group_leaves_the_others(storage: Storage) -> None:
    storage.write(declarations.declare, "o", {"n": {"type": "integer"}})
    with storage.group():
        storage.write(settings.set_, "a", "1")
        with pytest.raises(ParamsInvalid) as refused:
            storage.write(settings.set_many, [_input("b", "2"), _input("n", "x")])
        storage.write(settings.set_, "c", "3")
    assert [(e.path, e.message) for e in refused.value.errors] == [
        ("entries.1.value", "not JSON (Expecting value at character 0)")
    ]
    assert [e.key for e in storage.read(settings.get_all)] == ["a", "c"]


def test_renamed_keys_take_the_first_old_key_by_name(storage: Storage) -> None:
    storage.write(
        declarations.declare,
        "o",
        {"new": {}, "old.b": {"renamedTo": "new"}, "old.a": {"renamedTo": "new"}},
    )
    storage.write(settings.set_many, [_input("old.a", "1"), _input("old.b", "2")])

    def resolve(tx: Tx) -> Any:
        return values.resolve(tx, ["new"])

    (resolved,) = storage.read(resolve)
    assert (resolved.value, resolved.from_) == (1, "old.a")
    assert json.loads(compact(resolved.value)) == 1


def _input(key: str, value: str) -> SettingsSetManyEntry:
    return SettingsSetManyEntry(key=key, value=value)
