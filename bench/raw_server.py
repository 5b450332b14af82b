"""The limit: a bare stdio JSON-RPC loop over the stdlib sqlite3, with no framework.

Usage: python raw_server.py DB_PATH   (methods settings/get and settings/set only)

A copy of the yardstick's raw_server.py, statement for statement (tests compare
the two syntax trees), reflowed for the linter. The loop stays at module level
on purpose: its global-variable lookups are part of what the yardstick costs,
so this copy measures the same thing.
"""

import json
import sqlite3
import sys
import time

if __name__ == "__main__":
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS settings (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "key TEXT NOT NULL UNIQUE, value TEXT NOT NULL, updated_at INTEGER)"
    )
    inp = sys.stdin.buffer
    out = sys.stdout.buffer
    while True:
        n = None
        while True:
            line = inp.readline()
            if not line:
                sys.exit(0)
            if line in (b"\r\n", b"\n"):
                break
            if line.lower().startswith(b"content-length"):
                n = int(line.split(b":")[1])
        # As in the yardstick: n stays None without a Content-Length (read to the end).
        msg = json.loads(inp.read(n))  # type: ignore[arg-type]
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
        out.write(b"Content-Length: %d\r\n\r\n" % len(b) + b)
        out.flush()
