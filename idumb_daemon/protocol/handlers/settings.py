"""settings/* methods."""

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

if TYPE_CHECKING:
    from idumb_daemon.protocol.server import IdumbServer


def register(server: IdumbServer) -> None:
    @server.feature("settings/get")
    async def get(ls: IdumbServer, p: SettingsGetParams) -> SettingsEntry | None:
        return await ls.call(lambda s: s.get(p.key))

    @server.feature("settings/set")
    async def set_(ls: IdumbServer, p: SettingsSetParams) -> SettingsEntry:
        return await ls.call(lambda s: s.set(p.key, p.value), write=True)

    @server.feature("settings/delete")
    async def delete(ls: IdumbServer, p: SettingsDeleteParams) -> DeleteResult:
        return DeleteResult(deleted=await ls.call(lambda s: s.delete(p.key), write=True))

    @server.feature("settings/getAll")
    async def get_all(ls: IdumbServer, p: SettingsGetAllParams) -> list[SettingsEntry]:
        return await ls.call(lambda s: s.get_all(prefix=p.prefix, after=p.after, limit=p.limit))

    @server.feature("settings/setMany")
    async def set_many(ls: IdumbServer, p: SettingsSetManyParams) -> list[SettingsEntry]:
        return await ls.call(lambda s: s.set_many(p.entries), write=True)

    @server.feature("settings/export")
    async def export(ls: IdumbServer, p: SettingsExportParams) -> SettingsExport:
        return await ls.call(lambda s: s.export())

    @server.feature("settings/import")
    async def import_(ls: IdumbServer, p: SettingsImportParams) -> ImportResult:
        return await ls.call(
            lambda s: s.import_(p.settings, replace=p.replace, dry_run=p.dry_run),
            write=not p.dry_run,
        )
