"""Request handlers, one module per protocol area. Each is thin: structured
params in, one storage operation, a contract type out.

A handler names its method by its entry in the method table,

    @handles(SETTINGS_GET)
    def get(server: IdumbServer, p: SettingsGetParams) -> Pending[SettingsEntry | None]:
        return server.read(settings.get, p.key)

and create_server registers every handler of AREAS from that mark.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Final, TypeAlias, TypeVar

from idumb_daemon.contracts import Method
from idumb_daemon.worker import Pending

if TYPE_CHECKING:
    from idumb_daemon.protocol.server import IdumbServer

P = TypeVar("P")
R = TypeVar("R")

Handler: TypeAlias = Callable[["IdumbServer", P], "R | Pending[R] | Coroutine[Any, Any, R]"]
"""Takes the server and the structured params; returns the result, a storage
call's Pending, or a coroutine (for work that awaits)."""

_METHOD: Final = "idumb_method"


def handles(method: Method[P, R]) -> Callable[[Handler[P, R]], Handler[P, R]]:
    """Mark a function as the handler of `method`."""

    def mark(fn: Handler[P, R]) -> Handler[P, R]:
        setattr(fn, _METHOD, method)
        return fn

    return mark


def method_of(fn: object) -> Method[Any, Any] | None:
    """The method `fn` handles, if it is a handler."""
    method = getattr(fn, _METHOD, None)
    return method if isinstance(method, Method) else None
