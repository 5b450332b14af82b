"""LSP base-protocol framing on raw file descriptors.

pygls reads stdin one line at a time through a thread-pool hop per line,
trusts any Content-Length it is told and matches the header case-sensitively.
This reader runs in one thread of its own, reads in large chunks, matches
header names case-insensitively, and discards an oversized body while
streaming it, so a 1 GiB message never sits in memory.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Final

import attrs

MAX_BODY: Final = 16 * 1024 * 1024
# A header block longer than this is not LSP: give up on it instead of buffering.
MAX_HEADER: Final = 64 * 1024
_CHUNK: Final = 1 << 16


@attrs.frozen
class FrameError:
    """A header block the reader could not use; answered with -32600, id null."""

    message: str


Frame = bytes | FrameError


class FrameParser:
    """Incremental parser: feed bytes, collect complete frames."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._skip = 0  # bytes of an oversized body still to discard
        self._length: int | None = None  # body length once its header is read

    def feed(self, data: bytes) -> list[Frame]:
        frames: list[Frame] = []
        if self._skip:
            dropped = min(self._skip, len(data))
            self._skip -= dropped
            data = data[dropped:]
        self._buf += data
        while True:
            frame = self._next()
            if frame is None:
                return frames
            frames.append(frame)

    def _next(self) -> Frame | None:
        if self._skip:
            return None
        buf = self._buf
        if self._length is None:
            error = self._header()
            if error is not None or self._length is None:
                return error
        length = self._length
        if len(buf) < length:
            return None
        body = bytes(buf[:length])
        del buf[:length]
        self._length = None
        return body

    def _header(self) -> FrameError | None:
        """Consume one header block and set `_length`; a FrameError when unusable."""
        buf = self._buf
        # Search the header only, never the body behind it: a body is read once.
        end = buf.find(b"\r\n\r\n", 0, MAX_HEADER + 4)
        sep = 4
        lf_end = buf.find(b"\n\n", 0, MAX_HEADER + 2 if end == -1 else end)
        if lf_end != -1:
            # Tolerate bare LF line ends, as vscode-jsonrpc's reader does not but
            # hand-typed shell input needs.
            end, sep = lf_end, 2
        if end == -1:
            if len(buf) > MAX_HEADER + 4:
                del buf[:]
                return FrameError("header block too long")
            return None
        length = _content_length(bytes(buf[:end]))
        del buf[: end + sep]
        if length is None:
            return FrameError("missing or invalid Content-Length header")
        if length > MAX_BODY:
            available = min(len(buf), length)
            del buf[:available]
            self._skip = length - available
            return FrameError(f"message of {length} bytes is over the 16 MiB limit")
        self._length = length
        return None


def _content_length(header: bytes) -> int | None:
    length: int | None = None
    for line in header.splitlines():
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() == b"content-length":
            text = value.strip()
            if not text.isdigit():
                return None
            length = int(text)
    return length


def read_frames(fd: int, deliver: Callable[[list[Frame] | None], None]) -> None:
    """Read `fd` until end of file, handing complete frames to `deliver` in the
    order read; `deliver(None)` marks the end. Runs in its own thread."""
    parser = FrameParser()
    while True:
        try:
            data = os.read(fd, _CHUNK)
        except OSError:
            data = b""
        if not data:
            deliver(None)
            return
        frames = parser.feed(data)
        if frames:
            deliver(frames)


def encode_frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n%b" % (len(body), body)
