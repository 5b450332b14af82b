"""Persistence: the database file or server, its schema, and the operations
on settings and workspace config. Knows nothing of JSON-RPC."""

from idumb_daemon.storage.errors import StorageError
from idumb_daemon.storage.store import Storage, StorageInfo
from idumb_daemon.storage.tx import Tx

__all__ = ["Storage", "StorageError", "StorageInfo", "Tx"]
