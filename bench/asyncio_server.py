"""The raw loop on asyncio: the floor for any server built on asyncio's
event loop, as pygls and so the daemon are.

Usage: python asyncio_server.py DB_PATH [--contracts [--revisions]]
(methods settings/get and settings/set only)

The same statements on the same sqlite3 connection as raw_server.py, but
stdin is read when asyncio's selector says it is readable, and the answers
to one chunk of input leave in one write, as the daemon's do. Its distance
from raw_server is what the event loop costs; the daemon's distance from it
is what the daemon itself costs.

With --contracts it also does the work the daemon cannot skip for a
request: params structured into their contract type by the contracts'
converter (which validates them), the database file checked as one deleted
or replaced would be caught, and the answer a contract type unstructured by
the converter. That splits the daemon's own cost in two: what any server
with its contracts must do, and what the daemon's layers add.

With --revisions as well, it works on the daemon's own schema, migrated
by the daemon's migrations: every write then also keeps the change log
that revisions and the change feed read (the triggers rewrite a row of it
and its index), runs in BEGIN IMMEDIATE ... COMMIT, and reads its revision
back; a get reads the revision with the value. What is left between it and
the daemon is the daemon's layers alone: pygls, dispatch, the storage
layer, the write lock and checkpoints.
"""

import asyncio
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable
from typing import Any

UPSERT = (
    "INSERT INTO settings(key,value,updated_at) VALUES(?,?,?) "
    "ON CONFLICT(key) DO UPDATE SET value=excluded.value, "
    "updated_at=excluded.updated_at"
)
Answer = Callable[[sqlite3.Connection, bytes], bytes]


def frame(message: dict[str, Any]) -> bytes:
    b = json.dumps({"jsonrpc": "2.0", **message}).encode()
    return b"Content-Length: %d\r\n\r\n" % len(b) + b


def answer(db: sqlite3.Connection, body: bytes) -> bytes:
    msg = json.loads(body)
    p = msg["params"]
    if msg["method"] == "settings/get":
        r = db.execute("SELECT value FROM settings WHERE key=?", (p["key"],)).fetchone()
        res = {"value": r[0] if r else None}
    else:
        db.execute(UPSERT, (p["key"], p["value"], int(time.time())))
        res = {"success": True}
    return frame({"id": msg["id"], "result": res})


REVISION_JOIN = (
    "LEFT JOIN __idumb_changes AS rev "
    "ON rev.table_name = 'settings' AND rev.scope = '' AND rev.row_key = settings.key"
)
GET_WITH_REVISION = (
    "SELECT settings.key, settings.value, settings.updated_at, rev.seq FROM settings "
    f"{REVISION_JOIN} WHERE settings.key = ?"
)
REVISION = (
    "SELECT seq FROM __idumb_changes WHERE table_name = 'settings' AND scope = '' AND row_key = ?"
)


def migrate(path: str) -> None:
    """The daemon's schema, as the daemon migrates a file on start."""
    from idumb_daemon.protocol.server import migrate_step
    from idumb_daemon.storage import Storage

    storage = Storage("sqlite:///" + os.path.abspath(path), migrate=migrate_step())
    storage.open()
    storage.close()


def answer_with_contracts(path: str, *, revisions: bool = False) -> Answer:
    # Imported here: the plain loop must not pay for importing the daemon.
    from idumb_daemon import contracts
    from idumb_daemon.protocol.errors import INVALID_PARAMS
    from idumb_daemon.storage.times import to_time

    get_sql = (
        GET_WITH_REVISION
        if revisions
        else "SELECT key, value, updated_at, 0 FROM settings WHERE key=?"
    )

    def entry(db: sqlite3.Connection, msg: dict[str, Any]) -> contracts.SettingsEntry | None:
        os.stat(path)
        if msg["method"] == "settings/get":
            get = contracts.structure(msg["params"], contracts.SettingsGetParams)
            r = db.execute(get_sql, (get.key,)).fetchone()
            if r is None:
                return None
            # Without --revisions this yardstick keeps no change log (revision 0).
            return contracts.SettingsEntry(
                key=r[0], value=r[1], updated_at=to_time(r[2]), revision=r[3], project_dir=None
            )
        put = contracts.structure(msg["params"], contracts.SettingsSetParams)
        now = int(time.time())
        revision = 0
        if revisions:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(UPSERT, (put.key, put.value, now))
                (revision,) = db.execute(REVISION, (put.key,)).fetchone()
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        else:
            db.execute(UPSERT, (put.key, put.value, now))
        return contracts.SettingsEntry(
            key=put.key,
            value=put.value,
            updated_at=to_time(now),
            revision=revision,
            project_dir=None,
        )

    def answer(db: sqlite3.Connection, body: bytes) -> bytes:
        msg = json.loads(body)
        try:
            return frame({"id": msg["id"], "result": contracts.unstructure(entry(db, msg))})
        except contracts.ParamsInvalid as exc:
            # As the daemon answers invalid params, so the column stays comparable.
            data = contracts.unstructure(contracts.InvalidParamsData(errors=exc.errors))
            error = {"code": INVALID_PARAMS, "message": "invalid params", "data": data}
            return frame({"id": msg["id"], "error": error})

    return answer


async def serve(db: sqlite3.Connection, answer: Answer) -> None:
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    buf = bytearray()
    os.set_blocking(0, False)

    def readable() -> None:
        data = os.read(0, 1 << 16)
        if not data:
            loop.remove_reader(0)
            done.set_result(None)
            return
        buf.extend(data)
        out: list[bytes] = []
        while (end := buf.find(b"\r\n\r\n")) >= 0:
            n = int(bytes(buf[:end]).split(b":")[1])
            if len(buf) < end + 4 + n:
                break
            out.append(answer(db, bytes(buf[end + 4 : end + 4 + n])))
            del buf[: end + 4 + n]
        if out:
            data = b"".join(out)
            while data:
                data = data[os.write(1, data) :]

    loop.add_reader(0, readable)
    await done


if __name__ == "__main__":
    path = sys.argv[1]
    contracts = "--contracts" in sys.argv
    revisions = contracts and "--revisions" in sys.argv
    if revisions:
        migrate(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS settings (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "key TEXT NOT NULL UNIQUE, value TEXT NOT NULL, updated_at INTEGER)"
    )
    asyncio.run(
        serve(conn, answer_with_contracts(path, revisions=revisions) if contracts else answer)
    )
