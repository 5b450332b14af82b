"""Hostile input against one long-lived daemon: a seeded, bounded run of
broken bodies, wrong types, huge strings, deep nesting and header variants.
The daemon never exits or hangs, every request with a usable id gets exactly
one response, and a valid request afterwards works."""

from __future__ import annotations

import json
import math
import queue
import random
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from bench import procfs
from idumb_daemon import contracts
from idumb_daemon.contracts import INITIALIZE, SHUTDOWN
from tests.conftest import DaemonFactory
from tests.wire import Wire

SEED = 20261126
CASES = 4000
SYNC_EVERY = 150
MIB = 1024 * 1024

# Every method of the method table but the lifecycle's: shutdown, exit and
# initialize (with a processId) end the daemon on purpose.
METHODS = [name for name in contracts.METHODS if name not in (INITIALIZE.name, SHUTDOWN.name)]
VALID: dict[str, dict[str, Any]] = {
    "settings/get": {"key": "fuzz.k"},
    "settings/set": {"key": "fuzz.k", "value": "v"},
    "settings/delete": {"key": "fuzz.k"},
    "settings/getAll": {"prefix": "fuzz.", "after": "fuzz.a", "limit": 5},
    "settings/setMany": {
        "entries": [{"key": "fuzz.a", "value": "1"}, {"key": "fuzz.b", "value": "2"}]
    },
    "settings/export": {},
    "settings/import": {
        "version": "1.0",
        "settings": [{"key": "fuzz.i", "value": "x"}],
        "replace": False,
        "dryRun": True,
    },
    "settings/declare": {"owner": "fuzz", "settings": {"fuzz.d": {"type": "string"}}},
    "settings/declarations": {"prefix": "fuzz."},
    "settings/resolve": {"keys": ["fuzz.d", "fuzz.k"]},
    "settings/inspect": {"key": "fuzz.d"},
    "workspaceConfig/get": {"projectDir": "/fuzz/p"},
    "workspaceConfig/set": {
        "projectDir": "/fuzz/p",
        "name": "n",
        "config": {"a": [1, {"b": None}]},
    },
    "workspaceConfig/open": {"projectDir": "/fuzz/p"},
    "workspaceConfig/list": {"limit": 3},
    "workspaceConfig/delete": {"projectDir": "/fuzz/q"},
    "daemon/status": {},
    "daemon/watch": {"enabled": False},
}
NOTIFICATIONS = ["$/cancelRequest", "$/setTrace", "$/progress", "initialized", *METHODS]


def test_every_fuzzed_method_has_a_valid_sample() -> None:
    """A method added to the table is fuzzed at once; it needs its sample here."""
    assert set(VALID) == set(METHODS)


class Fuzzer:
    """Seeded generator of frames; knows which ids must be answered once."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.next_id = 0
        self.kinds: Counter[str] = Counter()

    # values

    def text(self) -> str:
        rng = self.rng
        pick = rng.random()
        if pick < 0.05:
            return "\ud800" + "x"  # a lone surrogate: refused, never stored
        if pick < 0.1:
            return "".join(chr(rng.randrange(0, 32)) for _ in range(rng.randrange(1, 8)))
        if pick < 0.11:
            return "k" * rng.choice([513, 4097, 4097, MIB + 1])  # over each limit
        alphabet = "aZ09 ./%_-'\";:\\{}[]é中🎉\u2028"
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 24)))

    def number(self) -> Any:
        return self.rng.choice(
            [
                0,
                -1,
                1,
                2**31,
                2**53 + 1,
                2**70,
                -(2**64),
                0.5,
                -0.0,
                1e308,
                1e-308,
                math.inf,
                -math.inf,
                math.nan,
            ]
        )

    def value(self, depth: int = 0) -> Any:
        rng = self.rng
        pick = rng.random()
        if depth > 4 or pick < 0.4:
            return rng.choice([None, True, False, self.number(), self.text(), self.text()])
        if pick < 0.7:
            return [self.value(depth + 1) for _ in range(rng.randrange(0, 4))]
        # No "id" among random keys: only generated requests carry ids.
        return {
            self.text().replace("id", "i"): self.value(depth + 1)
            for _ in range(rng.randrange(0, 4))
        }

    def nested(self, depth: int) -> Any:
        out: Any = "bottom"
        for _ in range(depth):
            out = [out] if self.rng.random() < 0.5 else {"n": out}
        return out

    def params(self, method: str) -> Any:
        rng = self.rng
        base = dict(VALID[method])
        pick = rng.random()
        if pick < 0.15:
            return base
        if pick < 0.25:
            return self.value()
        if pick < 0.3:
            return [base]  # positional params
        if pick < 0.35:
            return {**base, "config": self.nested(rng.choice([10, 200, 900]))}
        for _ in range(rng.randrange(1, 3)):
            action = rng.random()
            if base and action < 0.4:
                base[rng.choice(sorted(base))] = self.value()
            elif base and action < 0.6:
                del base[rng.choice(sorted(base))]
            elif action < 0.95:
                base[self.text() or "extra"] = self.value()
            else:
                base["value" if "value" in base else "key"] = "v" * rng.choice([MIB, MIB + 1])
        return base

    def usable_id(self) -> int | str:
        self.next_id += 1
        return self.next_id if self.rng.random() < 0.5 else f"fuzz-{self.next_id}"

    def message(self, *, notification: bool = False) -> Any:
        """A request-shaped object, more or less broken."""
        rng = self.rng
        if notification:
            method: Any = rng.choice(NOTIFICATIONS)
            params = (
                {"id": rng.choice([1, "x", None, [1], {"a": 1}, 2.5])}
                if method == "$/cancelRequest"
                else self.params(method)
                if method in VALID
                else self.value()
            )
            return {"jsonrpc": "2.0", "method": method, "params": params}
        msg_id: Any = self.usable_id()
        if rng.random() < 0.1:
            msg_id = rng.choice([None, 1.5, True, [1], {"id": 1}])  # unusable: id null
        method = rng.choice(METHODS)
        message: dict[str, Any] = {
            "jsonrpc": "2.0",
            "id": msg_id,
            "method": method,
            "params": self.params(method),
        }
        pick = rng.random()
        if pick < 0.05:
            message["jsonrpc"] = rng.choice(["1.0", 2, None])
        elif pick < 0.1:
            message["method"] = rng.choice([self.text(), 7, None, ["settings/get"]])
        elif pick < 0.13:
            del message["method"]
        elif pick < 0.16:
            del message["params"]
        elif pick < 0.2:
            message["method"] = self.text() + "/nope"
        elif pick < 0.22:
            message["result"] = None  # with a method: still a request
        return message

    # frames

    def case(self) -> tuple[bytes, bytes | None]:
        """One fuzz case: the bytes to send and the body the daemon will read
        from them (None: a header block it must skip)."""
        kinds: list[tuple[float, str, Callable[[], tuple[bytes, bytes | None]]]] = [
            (0.30, "request", self._request),
            (0.08, "notification", self._notification),
            (0.10, "batch", self._batch),
            (0.12, "random-bytes", self._random_bytes),
            (0.12, "random-json", self._random_json),
            (0.04, "deep-nesting", self._deep),
            (0.24, "header", self._header),
        ]
        roll = self.rng.random()
        for weight, kind, make in kinds:  # noqa: B007 (the one chosen is used below)
            roll -= weight
            if roll < 0:
                break
        self.kinds[kind] += 1
        return make()

    @staticmethod
    def framed(body: bytes) -> tuple[bytes, bytes]:
        return b"Content-Length: %d\r\n\r\n%b" % (len(body), body), body

    @staticmethod
    def dump(message: Any) -> bytes:
        # allow_nan: NaN and Infinity are not JSON, so such a body is -32700.
        return json.dumps(message).encode()

    def _request(self) -> tuple[bytes, bytes | None]:
        return self.framed(self.dump(self.message()))

    def _notification(self) -> tuple[bytes, bytes | None]:
        return self.framed(self.dump(self.message(notification=True)))

    def _batch(self) -> tuple[bytes, bytes | None]:
        members = [
            self.value()
            if self.rng.random() < 0.2
            else self.message(notification=self.rng.random() < 0.2)
            for _ in range(self.rng.randrange(0, 6))
        ]
        return self.framed(self.dump(members))

    def _random_bytes(self) -> tuple[bytes, bytes | None]:
        return self.framed(self.rng.randbytes(self.rng.randrange(0, 300)))

    def _random_json(self) -> tuple[bytes, bytes | None]:
        return self.framed(self.dump(self.value()))

    def _deep(self) -> tuple[bytes, bytes | None]:
        depth = self.rng.choice([1_500, 20_000, 100_000])
        pick = self.rng.random()
        if pick < 0.4:
            body = b"[" * depth + b"]" * depth
        elif pick < 0.7:
            body = b'{"a":' * depth + b"1" + b"}" * depth
        else:  # a request whose params are too deep to parse: it has no usable id
            body = (
                b'{"jsonrpc":"2.0","id":"deep","method":"settings/set","params":'
                + b"[" * depth
                + b"]" * depth
                + b"}"
            )
        return self.framed(body)

    def _header(self) -> tuple[bytes, bytes | None]:
        rng = self.rng
        body = self.dump(self.message())
        n = len(body)
        pick = rng.random()
        if pick < 0.15:
            return b"content-length: %d\r\n\r\n%b" % (n, body), body
        if pick < 0.3:
            return b"CONTENT-LENGTH:   %d   \r\n\r\n%b" % (n, body), body
        if pick < 0.45:
            return (
                b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n"
                b"Content-Length: %d\r\n\r\n%b" % (n, body)
            ), body
        if pick < 0.55:
            return (
                b"Content-Length: %d\r\nX-Unknown: \xff\xfe\r\nContent-Type: text/odd\r\n\r\n%b"
                % (n, body)
            ), body
        if pick < 0.6:
            return b"Content-Length: 0\r\n\r\n", b""  # an empty body: -32700
        # A header block without a usable Content-Length: skipped whole.
        bad = rng.choice([b"", b"abc", b"-5", b"+5", b"5.0", b"0x10", b"1e3", b"\xff"])
        name = rng.choice([b"Content-Length: ", b"Content-Lengt: ", b"X-Length: "])
        return name + bad + b"\r\n\r\n", None


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def answerable(body: bytes | None) -> list[Any]:
    """The ids that must each get one response, as JSON-RPC 2.0 and
    PROTOCOL.md define them: a body that parses (strict JSON, UTF-8) as a
    request object or a batch of them, with an integer or string id. A member
    with no method but a result or error is the client answering, not asking."""
    if body is None:
        return []
    try:
        message = json.loads(body.decode("utf-8"), parse_constant=_not_json)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return []
    ids = []
    for member in message if isinstance(message, list) else [message]:
        if not isinstance(member, dict) or "id" not in member:
            continue
        msg_id = member["id"]
        if isinstance(msg_id, bool) or not isinstance(msg_id, int | str):
            continue
        if not isinstance(member.get("method"), str) and ("result" in member or "error" in member):
            continue
        ids.append(msg_id)
    return ids


def _sync(wire: Wire, tag: str, answered: Counter[Any]) -> None:
    """Read until the answer to a fresh storage request (queued behind every
    earlier storage request) arrives, counting every response on the way."""
    wire.send({"jsonrpc": "2.0", "id": tag, "method": "settings/get", "params": {"key": "x"}})
    deadline = time.monotonic() + 60
    while True:
        try:
            message = wire.messages.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no answer to {tag}: the daemon hangs") from None
        assert message is not None, f"daemon exited; stderr:\n{wire.stderr.decode()[-3000:]}"
        for response in message if isinstance(message, list) else [message]:
            if isinstance(response, dict) and "method" in response:
                continue  # a notification, not an answer
            answered[_key(response.get("id"))] += 1
            if response.get("id") == tag:
                assert response.get("result", "") is None, response
                return


def _key(msg_id: Any) -> Any:
    return json.dumps(msg_id)


def test_seeded_fuzz_never_kills_or_hangs_the_daemon(spawn: DaemonFactory) -> None:
    daemon = spawn()
    fuzzer = Fuzzer(SEED)
    expected: Counter[Any] = Counter()
    answered: Counter[Any] = Counter()
    syncs = []
    for start in range(0, CASES, SYNC_EVERY):
        data = bytearray()
        for _ in range(min(SYNC_EVERY, CASES - start)):
            frame, body = fuzzer.case()
            data += frame
            expected.update(_key(i) for i in answerable(body))
        daemon.send_raw(bytes(data))
        tag = f"sync-{start}"
        syncs.append(_key(tag))
        _sync(daemon, tag, answered)
    _sync(daemon, "sync-final", answered)  # anything still in flight has landed
    syncs.append(_key("sync-final"))

    assert daemon.proc.poll() is None
    assert all(count == 1 for count in expected.values()), "fuzz generated a duplicate id"
    for tag in syncs:
        del answered[tag]
    answered.pop(_key(None), None)  # errors about frames and bodies without an id
    missing = sorted(set(expected) - set(answered))
    extra = sorted(set(answered) - set(expected))
    twice = sorted(k for k, n in answered.items() if n > 1)
    assert not missing, f"{len(missing)} requests never answered: {missing[:10]}"
    assert not twice, f"answered more than once: {twice[:10]}"
    assert not extra, f"answers to no request with a usable id: {extra[:10]}"
    assert sum(fuzzer.kinds.values()) == CASES and len(fuzzer.kinds) == 7

    entry = daemon.result("settings/set", {"key": "after.fuzz", "value": "still here"})
    assert daemon.result("settings/get", {"key": "after.fuzz"}) == entry
    # A bug would have been answered -32603 and logged with its traceback.
    assert b"Traceback" not in daemon.stderr, daemon.stderr.decode()[-3000:]
    assert daemon.stop() == 0


def test_a_message_over_16_mib_is_discarded_without_holding_it(spawn: DaemonFactory) -> None:
    daemon = spawn()
    for n in range(50):  # warm up: lazy imports and buffers are in place
        daemon.result("settings/set", {"key": f"warm.{n}", "value": "v" * 1000})
    pid = daemon.proc.pid
    rss, peak = procfs.rss_mib(pid), procfs.peak_rss_mib(pid)

    size = 24 * MIB  # well over the limit, streamed in 1 MiB writes
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": "huge",
            "method": "settings/set",
            "params": {"key": "huge", "value": "h" * (size - 100)},
        }
    ).encode()
    daemon.send_raw(b"Content-Length: %d\r\n\r\n" % len(body))
    for offset in range(0, len(body), MIB):
        daemon.send_raw(body[offset : offset + MIB])
    answer = daemon.call("settings/get", {"key": "huge"})
    assert answer["result"] is None  # never stored, and the stream is still in step

    grown = procfs.rss_mib(pid) - rss
    peak_grown = procfs.peak_rss_mib(pid) - peak
    assert grown < 8 and peak_grown < 8, (grown, peak_grown)  # MiB
    assert daemon.response(None)["error"]["code"] == -32600  # id null: the body was never read
    assert daemon.stop() == 0


def test_an_over_long_header_block_is_skipped_and_the_next_message_served(
    spawn: DaemonFactory,
) -> None:
    daemon = spawn()
    assert daemon.result("daemon/status", {})["protocolVersion"] == 2
    daemon.send_raw(b"X-Junk: " + b"j" * 200_000 + b"\r\n\r\n")
    msg_id = daemon.request("settings/get", {"key": "k"})
    assert daemon.response(msg_id, timeout=3).get("result", "") is None
    assert daemon.response(None, timeout=3)["error"]["code"] == -32600
    assert daemon.stop() == 0
