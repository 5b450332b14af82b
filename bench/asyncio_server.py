"""The raw loop on asyncio: the floor for any server built on asyncio's
event loop, as pygls and so the daemon are.

Usage: python asyncio_server.py DB_PATH [--contracts]
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


def answer_with_contracts(path: str) -> Answer:
    # Imported here: the plain loop must not pay for importing the daemon.
    from idumb_daemon import contracts
    from idumb_daemon.protocol.errors import INVALID_PARAMS
    from idumb_daemon.storage.settings import to_time

    def entry(db: sqlite3.Connection, msg: dict[str, Any]) -> contracts.SettingsEntry | None:
        os.stat(path)
        if msg["method"] == "settings/get":
            get = contracts.structure(msg["params"], contracts.SettingsGetParams)
            r = db.execute(
                "SELECT key, value, updated_at FROM settings WHERE key=?", (get.key,)
            ).fetchone()
            if r is None:
                return None
            # The answer's shape; this yardstick keeps no change log (revision 0).
            return contracts.SettingsEntry(
                key=r[0], value=r[1], updated_at=to_time(r[2]), revision=0, project_dir=None
            )
        put = contracts.structure(msg["params"], contracts.SettingsSetParams)
        now = int(time.time())
        db.execute(UPSERT, (put.key, put.value, now))
        return contracts.SettingsEntry(
            key=put.key, value=put.value, updated_at=to_time(now), revision=0, project_dir=None
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
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS settings (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "key TEXT NOT NULL UNIQUE, value TEXT NOT NULL, updated_at INTEGER)"
    )
    asyncio.run(serve(conn, answer_with_contracts(path) if "--contracts" in sys.argv else answer))
