"""settings/*: each handler makes one storage call (queued, or a read done at once)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from idumb_daemon import contracts as c
from idumb_daemon.protocol.handlers import handles
from idumb_daemon.storage import settings
from idumb_daemon.storage.tx import Tx
from idumb_daemon.worker import Pending

if TYPE_CHECKING:
    from idumb_daemon.protocol.server import IdumbServer


@handles(c.SETTINGS_GET)
def get(server: IdumbServer, p: c.SettingsGetParams) -> Pending[c.SettingsEntry | None]:
    return server.read(settings.get, p.key)


@handles(c.SETTINGS_SET)
def set_(server: IdumbServer, p: c.SettingsSetParams) -> Pending[c.SettingsEntry]:
    return server.write(settings.set_, p.key, p.value, p.if_revision)


@handles(c.SETTINGS_DELETE)
def delete(server: IdumbServer, p: c.SettingsDeleteParams) -> Pending[c.DeleteResult]:
    return server.write(_delete, p.key, p.if_revision)


def _delete(tx: Tx, key: str, if_revision: int | None) -> c.DeleteResult:
    return c.DeleteResult(deleted=settings.delete(tx, key, if_revision))


@handles(c.SETTINGS_GET_ALL)
def get_all(server: IdumbServer, p: c.SettingsGetAllParams) -> Pending[list[c.SettingsEntry]]:
    return server.read(settings.get_all, p.prefix, p.after, p.limit)


@handles(c.SETTINGS_SET_MANY)
def set_many(server: IdumbServer, p: c.SettingsSetManyParams) -> Pending[list[c.SettingsEntry]]:
    return server.write(settings.set_many, p.entries)


@handles(c.SETTINGS_EXPORT)
def export(server: IdumbServer, p: c.SettingsExportParams) -> Pending[c.SettingsExport]:
    return server.read(settings.export)


@handles(c.SETTINGS_IMPORT)
def import_(server: IdumbServer, p: c.SettingsImportParams) -> Pending[c.ImportResult]:
    if p.dry_run:
        return server.read(settings.import_, p.settings, p.replace, True)
    return server.write(settings.import_, p.settings, p.replace, False)
