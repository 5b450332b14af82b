"""settings/* methods: each makes one storage call (queued, or a read done at once)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from idumb_daemon.contracts import (
    DeleteResult,
    ImportResult,
    SettingsDeleteParams,
    SettingsEntry,
    SettingsExport,
    SettingsExportParams,
    SettingsGetAllParams,
    SettingsGetParams,
    SettingsImportParams,
    SettingsSetManyParams,
    SettingsSetParams,
)
from idumb_daemon.worker import Pending

if TYPE_CHECKING:
    from idumb_daemon.protocol.server import IdumbServer


def register(server: IdumbServer) -> None:
    @server.feature("settings/get")
    def get(ls: IdumbServer, p: SettingsGetParams) -> Pending[SettingsEntry | None]:
        return ls.call(lambda s: s.get(p.key))

    @server.feature("settings/set")
    def set_(ls: IdumbServer, p: SettingsSetParams) -> Pending[SettingsEntry]:
        return ls.call(lambda s: s.set(p.key, p.value), write=True)

    @server.feature("settings/delete")
    def delete(ls: IdumbServer, p: SettingsDeleteParams) -> Pending[DeleteResult]:
        return ls.call(lambda s: DeleteResult(deleted=s.delete(p.key)), write=True)

    @server.feature("settings/getAll")
    def get_all(ls: IdumbServer, p: SettingsGetAllParams) -> Pending[list[SettingsEntry]]:
        return ls.call(lambda s: s.get_all(prefix=p.prefix, after=p.after, limit=p.limit))

    @server.feature("settings/setMany")
    def set_many(ls: IdumbServer, p: SettingsSetManyParams) -> Pending[list[SettingsEntry]]:
        return ls.call(lambda s: s.set_many(p.entries), write=True)

    @server.feature("settings/export")
    def export(ls: IdumbServer, p: SettingsExportParams) -> Pending[SettingsExport]:
        return ls.call(lambda s: s.export())

    @server.feature("settings/import")
    def import_(ls: IdumbServer, p: SettingsImportParams) -> Pending[ImportResult]:
        return ls.call(
            lambda s: s.import_(p.settings, replace=p.replace, dry_run=p.dry_run),
            write=not p.dry_run,
        )
