"""Fuzzing the transport as a class, not an instance: header blocks whose
Content-Length no parser can use (huge digit counts, negative, not a number,
given twice, missing) among good frames, cut anywhere; and a daemon whose
stdin and stdout are one socket, given seeded mixes of large and small
requests. Seeded and bounded."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from idumb_daemon.protocol.framing import FrameError, FrameParser
from tests.sockets import exchange, on_one_socket
from tests.wire import WAIT, Wire, frame, parse_frames

SEED = 20261201


@st.composite
def unusable_header(draw: st.DrawFn) -> bytes:
    """A header block without a usable Content-Length (no terminator)."""
    kind = draw(
        st.sampled_from(
            ["huge", "negative", "not a number", "disagreeing twice", "missing", "signed", "spaced"]
        )
    )
    name = draw(st.sampled_from([b"Content-Length", b"content-length", b"CONTENT-LENGTH"]))
    if kind == "huge":
        # 19 to 50,000 significant digits: past any length, past int()'s limit.
        count = draw(st.integers(min_value=19, max_value=50_000))
        first = draw(st.sampled_from("123456789"))
        zeros = b"0" * draw(st.integers(min_value=0, max_value=5))
        return name + b": " + zeros + first.encode() + b"7" * (count - 1)
    if kind == "negative":
        return name + b": -%d" % draw(st.integers(min_value=0, max_value=10**30))
    if kind == "not a number":
        text = draw(st.text(alphabet="abcxyz.e+_ \t", min_size=0, max_size=12))
        return name + b": " + text.encode() + b"x"
    if kind == "disagreeing twice":
        a = draw(st.integers(min_value=0, max_value=1000))
        b = draw(st.integers(min_value=0, max_value=1000).filter(lambda n: n != a))
        return name + b": %d\r\n" % a + name + b": %d" % b
    if kind == "signed":
        return name + b": +%d" % draw(st.integers(min_value=0, max_value=1000))
    if kind == "spaced":
        return name + b": 1 2"
    return b"Content-Type: application/vscode-jsonrpc; charset=utf-8"


@st.composite
def usable_frame(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """Wire bytes and the body they carry: leading zeros, repeats that agree."""
    body = draw(st.binary(max_size=48))
    zeros = b"0" * draw(st.integers(min_value=0, max_value=40))
    length = zeros + b"%d" % len(body)
    twice = draw(st.booleans())
    repeat = b"\r\ncontent-length: %d" % len(body) if twice else b""
    header = b"Content-Length: " + length + repeat
    return header + b"\r\n\r\n" + body, body


@settings(max_examples=150, deadline=None)
@given(
    items=st.lists(st.one_of(unusable_header(), usable_frame()), min_size=1, max_size=8),
    cuts=st.lists(st.integers(min_value=0), max_size=10),
)
def test_every_unusable_length_is_one_error_and_the_frames_around_it_survive(
    items: list[bytes | tuple[bytes, bytes]], cuts: list[int]
) -> None:
    data = b""
    expected: list[object] = []
    for item in items:
        if isinstance(item, tuple):
            data += item[0]
            expected.append(item[1])
        else:
            data += item + b"\r\n\r\n"
            expected.append("error")
    parser = FrameParser()
    got: list[object] = []
    start = 0
    for cut in [*sorted({c % (len(data) + 1) for c in cuts}), len(data)]:
        got += parser.feed(data[start:cut])
        start = cut
    assert ["error" if isinstance(f, FrameError) else f for f in got] == expected


def request(msg_id: Any, method: str, params: Any) -> bytes:
    return frame({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})


def seeded_unusable_header(rng: random.Random) -> bytes:
    """The kinds `unusable_header` draws, from a seeded generator."""
    kind = rng.randrange(5)
    if kind == 0:
        return b"Content-Length: " + b"9" * rng.choice([19, 300, 4301, 5000, 20_000, 60_000])
    if kind == 1:
        return b"content-length: -%d" % rng.randrange(10**6)
    if kind == 2:
        return b"Content-Length: " + rng.choice([b"", b"x", b"1.5", b"0x10", b"1e3", b"12 3"])
    if kind == 3:
        return b"Content-Length: %d\r\nContent-Length: %d" % (rng.randrange(9), 9)
    return b"Content-Type: text/plain"


def seeded_stream(rng: random.Random, cases: int) -> tuple[bytes, list[str], int]:
    """Good requests and unusable header blocks, mixed: the wire bytes, the
    ids that must each be answered once, and how many -32600s with id null."""
    data = bytearray()
    ids: list[str] = []
    rejected = 0
    for i in range(cases):
        if rng.random() < 0.3:
            data += seeded_unusable_header(rng) + b"\r\n\r\n"
            rejected += 1
        else:
            msg_id = f"r{i}"
            ids.append(msg_id)
            data += request(msg_id, "settings/set", {"key": f"f.{i}", "value": str(i)})
    return bytes(data), ids, rejected


def test_a_daemon_serves_on_through_seeded_unusable_headers(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    data, ids, rejected = seeded_stream(rng, 120)
    wire = Wire(["--db", str(tmp_path / "fuzz.db")])
    try:
        pos = 0
        while pos < len(data):  # cut into writes of seeded sizes
            step = rng.choice([1, 7, 100, 4096, 65536, 300_000])
            wire.send_raw(data[pos : pos + step])
            pos += step
        wire.close_stdin()
        assert wire.wait(WAIT) == 0
        wire.proc.stdout.close()  # type: ignore[union-attr]
    finally:
        wire.kill()
    messages = parse_frames(bytes(wire.raw_stdout))
    answered = [m["id"] for m in messages if m.get("id") is not None]
    assert sorted(answered) == sorted(ids)
    nulls = [m for m in messages if m.get("id") is None]
    assert len(nulls) == rejected
    assert all(m["error"]["code"] == -32600 for m in nulls)


def test_responses_stay_whole_on_one_socket_through_seeded_mixes(tmp_path: Path) -> None:
    rng = random.Random(SEED + 1)
    for run in range(3):
        data = bytearray()
        sizes: dict[str, int] = {}
        for i in range(rng.randint(4, 12)):
            # Up to ~4.5 MB a message: well under the 16 MiB limit.
            entries, size = rng.choice([(1, 1), (10, 9000), (500, 100), (500, 9000), (2000, 2000)])
            value = "v" * size
            msg_id = f"{run}-{i}"
            sizes[msg_id] = entries
            data += request(
                msg_id,
                "settings/setMany",
                {"entries": [{"key": f"k.{i}.{j}", "value": value} for j in range(entries)]},
            )
        with on_one_socket(tmp_path / f"s{run}.db") as (sock, proc):
            out = exchange(sock, bytes(data), len(sizes), read_sizes=rng_size)
            assert proc.wait(WAIT) == 0
        answers = {m["id"]: m for m in parse_frames(out)}
        assert {k: len(v["result"]) for k, v in answers.items()} == sizes


_READS = random.Random(SEED + 2)


def rng_size() -> int:
    """Seeded read sizes: a slow reader makes the daemon's writes partial."""
    return _READS.choice([512, 4096, 65536])
