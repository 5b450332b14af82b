"""settings/*: entries, their params and results, and their change notification."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final

import attrs

from idumb_daemon.contracts.checks import (
    MAX_GET_ALL_LIMIT,
    MAX_IMPORT_ENTRIES,
    MAX_SET_MANY_ENTRIES,
    AnyTime,
    ExportVersion,
    Key,
    Revision,
    Value,
    unique_keys,
    within,
)
from idumb_daemon.contracts.common import DeleteResult, Method


@attrs.frozen
class SettingsEntry:
    key: str
    value: str
    updated_at: datetime | None
    """When it was last written; null when the stored time is out of contract."""
    revision: int
    """The revision of its latest change."""
    project_dir: str | None
    """The project of a workspace-layer entry; null for the user layer."""


@attrs.frozen
class SettingInput:
    key: Key
    value: Value


@attrs.frozen
class SettingsSetManyEntry:
    key: Key
    value: Value
    if_revision: Revision | None = None


@attrs.frozen
class SettingsGetParams:
    key: Key


@attrs.frozen
class SettingsSetParams:
    key: Key
    value: Value
    if_revision: Revision | None = None
    """0: only if the key is absent; N: only if its current revision is N."""


@attrs.frozen
class SettingsDeleteParams:
    key: Key
    if_revision: Revision | None = None


@attrs.frozen
class SettingsGetAllParams:
    prefix: str | None = None
    """Literal, case-sensitive key prefix."""
    after: str | None = None
    """Keyset cursor: only keys greater than this one, in code-point order."""
    limit: Annotated[int, within(1, MAX_GET_ALL_LIMIT)] | None = None
    """None: every matching entry."""


@attrs.frozen
class SettingsSetManyParams:
    entries: Annotated[list[SettingsSetManyEntry], unique_keys(1, MAX_SET_MANY_ENTRIES)]


@attrs.frozen
class SettingsExportParams:
    pass


@attrs.frozen
class SettingsExport:
    """The export file; `settings/export` returns it."""

    version: ExportVersion
    settings: list[SettingInput]
    exported_at: AnyTime | None = None


@attrs.frozen
class SettingsImportParams:
    version: ExportVersion
    settings: Annotated[list[SettingInput], unique_keys(0, MAX_IMPORT_ENTRIES)]
    exported_at: AnyTime | None = None
    replace: bool = False
    """Also delete the stored keys that the file lacks."""
    dry_run: bool = False
    """Write nothing; report what would change."""


@attrs.frozen
class ImportResult:
    imported: int
    """Entries in the file, whether or not they changed anything."""
    added: list[str]
    changed: list[str]
    removed: list[str]


@attrs.frozen
class SettingChange:
    key: str
    value: str | None
    """None: the key was deleted."""
    updated_at: datetime | None
    revision: int
    """The revision of the state reported."""
    project_dir: str | None
    """Null for the user layer."""


@attrs.frozen
class SettingsDidChangeParams:
    changes: list[SettingChange]
    revision: int
    """The highest revision this notification covers: every change up to it,
    of either kind, has been sent."""
    resync: bool
    """True: drop every setting held, the rows here and in the notifications
    that follow are the whole state."""


# --- methods: each name written once, here --------------------------------------

SETTINGS_GET: Final[Method[SettingsGetParams, SettingsEntry | None]] = Method(
    "settings/get", SettingsGetParams, SettingsEntry | None
)

SETTINGS_SET: Final[Method[SettingsSetParams, SettingsEntry]] = Method(
    "settings/set", SettingsSetParams, SettingsEntry, writes=True
)

SETTINGS_DELETE: Final[Method[SettingsDeleteParams, DeleteResult]] = Method(
    "settings/delete", SettingsDeleteParams, DeleteResult, writes=True
)

SETTINGS_GET_ALL: Final[Method[SettingsGetAllParams, list[SettingsEntry]]] = Method(
    "settings/getAll", SettingsGetAllParams, list[SettingsEntry]
)

SETTINGS_SET_MANY: Final[Method[SettingsSetManyParams, list[SettingsEntry]]] = Method(
    "settings/setMany", SettingsSetManyParams, list[SettingsEntry], writes=True
)

SETTINGS_EXPORT: Final[Method[SettingsExportParams, SettingsExport]] = Method(
    "settings/export", SettingsExportParams, SettingsExport
)

SETTINGS_IMPORT: Final[Method[SettingsImportParams, ImportResult]] = Method(
    "settings/import", SettingsImportParams, ImportResult, writes=True
)
