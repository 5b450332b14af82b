"""settings/* methods: each queues one storage call and returns its Future."""

from __future__ import annotations

from concurrent.futures import Future
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

if TYPE_CHECKING:
    from idumb_daemon.protocol.server import IdumbServer


def register(server: IdumbServer) -> None:
    @server.feature("settings/get")
    def get(ls: IdumbServer, p: SettingsGetParams) -> Future[SettingsEntry | None]:
        return ls.call(lambda s: s.get(p.key))

    @server.feature("settings/set")
    def set_(ls: IdumbServer, p: SettingsSetParams) -> Future[SettingsEntry]:
        return ls.call(lambda s: s.set(p.key, p.value), write=True)

    @server.feature("settings/delete")
    def delete(ls: IdumbServer, p: SettingsDeleteParams) -> Future[DeleteResult]:
        return ls.call(lambda s: DeleteResult(deleted=s.delete(p.key)), write=True)

    @server.feature("settings/getAll")
    def get_all(ls: IdumbServer, p: SettingsGetAllParams) -> Future[list[SettingsEntry]]:
        return ls.call(lambda s: s.get_all(prefix=p.prefix, after=p.after, limit=p.limit))

    @server.feature("settings/setMany")
    def set_many(ls: IdumbServer, p: SettingsSetManyParams) -> Future[list[SettingsEntry]]:
        return ls.call(lambda s: s.set_many(p.entries), write=True)

    @server.feature("settings/export")
    def export(ls: IdumbServer, p: SettingsExportParams) -> Future[SettingsExport]:
        return ls.call(lambda s: s.export())

    @server.feature("settings/import")
    def import_(ls: IdumbServer, p: SettingsImportParams) -> Future[ImportResult]:
        return ls.call(
            lambda s: s.import_(p.settings, replace=p.replace, dry_run=p.dry_run),
            write=not p.dry_run,
        )
