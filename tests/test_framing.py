"""The frame parser alone: any split of the input gives the same frames."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from idumb_daemon.protocol.framing import MAX_BODY, FrameError, FrameParser, encode_frame

HEADER_FORMS = [
    b"Content-Length: %d\r\n\r\n",
    b"content-length:%d\r\n\r\n",
    b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length: %d\r\n\r\n",
    b"Content-Length: %d\r\nContent-Type: x\r\n\r\n",
    b"Content-Length:  %d \n\n",
    b"Content-Length: 000%d\r\n\r\n",
]


def feed_in_pieces(data: bytes, cuts: list[int]) -> list[object]:
    parser = FrameParser()
    frames: list[object] = []
    start = 0
    for cut in [*sorted({c % (len(data) + 1) for c in cuts}), len(data)]:
        frames += parser.feed(data[start:cut])
        start = cut
    return frames


@given(
    messages=st.lists(st.tuples(st.sampled_from(HEADER_FORMS), st.binary(max_size=64)), max_size=8),
    cuts=st.lists(st.integers(min_value=0), max_size=12),
)
def test_frames_survive_any_split_in_any_header_form(
    messages: list[tuple[bytes, bytes]], cuts: list[int]
) -> None:
    data = b"".join(form % len(body) + body for form, body in messages)
    assert feed_in_pieces(data, cuts) == [body for _form, body in messages]


def test_an_unusable_header_is_an_error_and_the_next_frame_is_read() -> None:
    good = encode_frame(b"{}")
    for bad in (b"Content-Length: x\r\n\r\n", b"Content-Type: y\r\n\r\n"):
        assert FrameParser().feed(bad + good) == [
            FrameError("missing or invalid Content-Length header"),
            b"{}",
        ]


def test_a_body_over_the_limit_is_skipped_as_it_arrives() -> None:
    parser = FrameParser()
    header = b"Content-Length: %d\r\n\r\n" % (MAX_BODY + 1)
    (error,) = parser.feed(header + b"x" * 1000)
    assert isinstance(error, FrameError) and "16 MiB" in error.message
    assert parser.feed(b"x" * (MAX_BODY - 1000)) == []  # the rest but one byte: dropped
    assert parser.feed(b"x" + encode_frame(b"[]")) == [b"[]"]
