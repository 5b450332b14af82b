"""Everything the daemon takes from pygls, in one place.

The protocol layer subclasses pygls' JsonRPCProtocol and builds on its
JsonRPCServer, but answers, dispatches and frames every message itself; it
relies on no more of pygls than `SEAM` lists. pygls gives no stability
promise for these (some are private), so `problems()` checks them against
the installed pygls and tests/test_pygls_seam.py fails loudly when an
upgrade changes one. Tested with pygls 2.1.
"""

from __future__ import annotations

import inspect
from typing import Final

from pygls.exceptions import JsonRpcException
from pygls.protocol import JsonRPCProtocol
from pygls.server import JsonRPCServer

__all__ = ["SEAM", "JsonRPCProtocol", "JsonRPCServer", "JsonRpcException", "problems"]

SEAM: Final[tuple[tuple[type, str, tuple[str, ...] | None], ...]] = (
    # IdumbProtocol.__init__ calls it, IdumbServer.__init__ through pygls.
    (JsonRPCProtocol, "__init__", ("self", "server", "converter")),
    # Overridden: pygls' own writes (none today) go through our framing too.
    (JsonRPCProtocol, "_send_data", ("self", "data")),
    # Called by that override to serialise pygls' message objects.
    (JsonRPCProtocol, "_serialize_message", ("self", "data")),
    # Builds the protocol with a converter from the factory, kept as `protocol`.
    (JsonRPCServer, "__init__", ("self", "protocol_cls", "converter_factory", "max_workers")),
    # A handler may raise one: its code, message and data become the error.
    (JsonRpcException, "code", None),
    (JsonRpcException, "message", None),
    (JsonRpcException, "data", None),
)
"""(owner, attribute, its parameters or None for a plain attribute)."""


def problems() -> list[str]:
    """How the installed pygls differs from `SEAM`; empty when it does not."""
    found: list[str] = []
    for owner, name, params in SEAM:
        where = f"{owner.__module__}.{owner.__qualname__}.{name}"
        if params is None:
            # JsonRpcException sets these per instance: look at one.
            if not hasattr(owner(), name):
                found.append(f"{where} is gone")
            continue
        attribute = owner.__dict__.get(name)
        if attribute is None:
            found.append(f"{where} is no longer defined there")
            continue
        actual = tuple(inspect.signature(attribute).parameters)
        if actual != params:
            found.append(f"{where} takes {actual}, the daemon expects {params}")
    return found
