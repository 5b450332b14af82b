"""settings/declare, settings/declarations, settings/resolve, settings/inspect."""

from __future__ import annotations

from typing import TYPE_CHECKING

from idumb_daemon import contracts as c
from idumb_daemon.protocol.handlers import handles
from idumb_daemon.storage import declarations, values
from idumb_daemon.worker import Pending

if TYPE_CHECKING:
    from idumb_daemon.protocol.server import IdumbServer


@handles(c.SETTINGS_DECLARE)
def declare(server: IdumbServer, p: c.SettingsDeclareParams) -> Pending[c.DeclareResult]:
    return server.write(declarations.declare, p.owner, p.settings)


@handles(c.SETTINGS_DECLARATIONS)
def list_(server: IdumbServer, p: c.SettingsDeclarationsParams) -> Pending[list[c.DeclaredSetting]]:
    return server.read(declarations.declarations, p.prefix)


@handles(c.SETTINGS_RESOLVE)
def resolve(server: IdumbServer, p: c.SettingsResolveParams) -> Pending[list[c.Resolved]]:
    if p.keys is not None and p.prefix is not None:
        raise c.ParamsInvalid([c.FieldError(path="prefix", message="not with keys")])
    return server.read(values.resolve, p.keys, p.prefix, p.project_dir)


@handles(c.SETTINGS_INSPECT)
def inspect(server: IdumbServer, p: c.SettingsInspectParams) -> Pending[c.Inspection]:
    return server.read(values.inspect, p.key, p.project_dir)
