"""settings/declare, settings/declarations, settings/resolve, settings/inspect:
the settings model of PROTOCOL.md v2 (declared keys, layers, resolution)."""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, TypeAlias

import attrs

from idumb_daemon.contracts.checks import (
    Check,
    Invalid,
    JsonObject,
    Key,
    ProjectDir,
    _check_key,
    compact_json_size,
)
from idumb_daemon.contracts.common import Method
from idumb_daemon.contracts.settings import SettingsEntry

MAX_DECLARED_KEYS: Final = 10_000
"""Per owner."""
MAX_DECLARATION_BYTES: Final = 65_536
"""One declaration as compact JSON in UTF-8."""
MAX_OWNER_CODE_POINTS: Final = 256
MAX_RESOLVE_KEYS: Final = 10_000


def _check_declaration(declaration: dict[str, Any]) -> dict[str, Any]:
    """What a declaration must be beside a valid schema (storage checks it
    against the 2020-12 meta-schema, and its default against itself)."""
    size = compact_json_size(declaration)
    if size is None or size > MAX_DECLARATION_BYTES:
        raise Invalid(f"larger than {MAX_DECLARATION_BYTES} bytes as compact JSON")
    scope = declaration.get("scope", "any")
    if scope not in ("any", "user"):
        raise Invalid('expected "any" or "user"', ("scope",))
    for name in ("deprecationMessage", "description"):
        if name in declaration and type(declaration[name]) is not str:
            raise Invalid("expected a string", (name,))
    if "deprecated" in declaration and type(declaration["deprecated"]) is not bool:
        raise Invalid("expected a boolean", ("deprecated",))
    if "renamedTo" in declaration:
        renamed = declaration["renamedTo"]
        if type(renamed) is not str:
            raise Invalid("expected a string", ("renamedTo",))
        try:
            _check_key(renamed)
        except Invalid as exc:
            raise Invalid(exc.message, ("renamedTo",)) from None
    return declaration


def _check_declared(settings: dict[str, Any]) -> dict[str, Any]:
    if len(settings) > MAX_DECLARED_KEYS:
        raise Invalid(f"has {len(settings)} keys, at most {MAX_DECLARED_KEYS} per owner")
    for key, declaration in settings.items():
        try:
            _check_key(key)
            if type(declaration) is not dict:
                raise Invalid("expected an object (a JSON Schema)")
            _check_declaration(declaration)
        except Invalid as exc:
            raise Invalid(exc.message, (key, *exc.path)) from None
    return settings


def _unique_keys(keys: list[str]) -> list[str]:
    if not 1 <= len(keys) <= MAX_RESOLVE_KEYS:
        raise Invalid(f"has {len(keys)} keys, expected 1..{MAX_RESOLVE_KEYS}")
    seen: dict[str, int] = {}
    for index, key in enumerate(keys):
        first = seen.setdefault(key, index)
        if first != index:
            raise Invalid(f"duplicate key (also at index {first})", (index,))
    return keys


def _check_owner(owner: str) -> str:
    if not 1 <= len(owner) <= MAX_OWNER_CODE_POINTS:
        raise Invalid(f"expected 1..{MAX_OWNER_CODE_POINTS} code points")
    return owner


Declaration: TypeAlias = Annotated[
    JsonObject,
    Check(
        _check_declaration,
        {
            "description": (
                "A JSON Schema (draft 2020-12) for the key's value, with `default`, "
                '`description`, `deprecated`, and keywords of ours: `scope` ("any" '
                'or "user"), `deprecationMessage`, `renamedTo`. At most '
                f"{MAX_DECLARATION_BYTES} bytes as compact JSON."
            )
        },
    ),
]
"""One declared key: the JSON Schema its value must validate against."""
Owner: TypeAlias = Annotated[
    str, Check(_check_owner, {"minLength": 1, "maxLength": MAX_OWNER_CODE_POINTS})
]
Declarations: TypeAlias = Annotated[
    JsonObject,
    Check(
        _check_declared,
        {"description": (f"A Declaration per key; at most {MAX_DECLARED_KEYS} keys per owner.")},
    ),
]
JsonValue: TypeAlias = Any
"""Any JSON value."""
Source: TypeAlias = Literal["workspace", "user", "default", "none"]
Layer: TypeAlias = Literal["workspace", "user"]


@attrs.frozen
class SettingsDeclareParams:
    owner: Owner
    settings: Declarations


@attrs.frozen
class DeclareResult:
    declared: int


@attrs.frozen
class SettingsDeclarationsParams:
    prefix: str | None = None
    """Literal, case-sensitive key prefix."""


@attrs.frozen
class DeclaredSetting:
    key: str
    owner: str
    declaration: JsonObject
    """As it was declared."""


@attrs.frozen
class Problem:
    layer: Layer
    message: str
    """Why the stored value of that layer was skipped."""


@attrs.frozen
class SettingsResolveParams:
    keys: (
        Annotated[
            list[Key],
            Check(_unique_keys, {"minItems": 1, "maxItems": MAX_RESOLVE_KEYS}),
        ]
        | None
    ) = None
    prefix: str | None = None
    """Literal, case-sensitive key prefix; not with `keys`."""
    project_dir: ProjectDir | None = None
    """With this project's workspace layer on top."""


@attrs.frozen
class Resolved:
    key: str
    value: JsonValue
    """Decoded: 14, not "14"; null when `source` is "none"."""
    source: Source
    revision: int | None
    """The revision of the entry used; null for a default or none."""
    from_: str | None = None
    """The renamed key whose value was used."""
    problems: list[Problem] | None = None
    """Stored values skipped because they do not validate."""


@attrs.frozen
class SettingsInspectParams:
    key: Key
    project_dir: ProjectDir | None = None


@attrs.frozen
class Inspection:
    key: str
    owner: str | None
    """Null: the key is not declared."""
    declaration: JsonObject | None
    default: JsonValue
    user: SettingsEntry | None
    workspace: SettingsEntry | None
    value: JsonValue
    source: Source
    problems: list[Problem]


# --- methods: each name written once, here --------------------------------------

SETTINGS_DECLARE: Final[Method[SettingsDeclareParams, DeclareResult]] = Method(
    "settings/declare", SettingsDeclareParams, DeclareResult, writes=True
)

SETTINGS_DECLARATIONS: Final[Method[SettingsDeclarationsParams, list[DeclaredSetting]]] = Method(
    "settings/declarations", SettingsDeclarationsParams, list[DeclaredSetting]
)

SETTINGS_RESOLVE: Final[Method[SettingsResolveParams, list[Resolved]]] = Method(
    "settings/resolve", SettingsResolveParams, list[Resolved]
)

SETTINGS_INSPECT: Final[Method[SettingsInspectParams, Inspection]] = Method(
    "settings/inspect", SettingsInspectParams, Inspection
)
