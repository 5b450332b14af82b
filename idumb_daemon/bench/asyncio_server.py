"""The raw loop on asyncio: the floor for any server built on asyncio's
event loop, as pygls and so the daemon are.

Usage: python asyncio_server.py DB_PATH   (methods settings/get and settings/set only)

The same statements on the same sqlite3 connection as raw_server.py, but
stdin is read when asyncio's selector says it is readable, and the answers
to one chunk of input leave in one write, as the daemon's do. Its distance
from raw_server is what the event loop costs; the daemon's distance from it
is what the daemon itself costs.
"""

import asyncio
import json
import os
import sqlite3
import sys
import time


def answer(db: sqlite3.Connection, body: bytes) -> bytes:
    msg = json.loads(body)
    p = msg["params"]
    if msg["method"] == "settings/get":
        r = db.execute("SELECT value FROM settings WHERE key=?", (p["key"],)).fetchone()
        res = {"value": r[0] if r else None}
    else:
        db.execute(
            "INSERT INTO settings(key,value,updated_at) VALUES(?,?,?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value, "
            "updated_at=excluded.updated_at",
            (p["key"], p["value"], int(time.time())),
        )
        res = {"success": True}
    b = json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": res}).encode()
    return b"Content-Length: %d\r\n\r\n" % len(b) + b


async def serve(db: sqlite3.Connection) -> None:
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
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS settings (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "key TEXT NOT NULL UNIQUE, value TEXT NOT NULL, updated_at INTEGER)"
    )
    asyncio.run(serve(conn))
