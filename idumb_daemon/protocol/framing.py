"""LSP base-protocol framing on raw file descriptors.

pygls reads stdin one line at a time through a thread-pool hop per line,
trusts any Content-Length it is told and matches the header case-sensitively.
This reader runs on the event loop when stdin is a pipe or socket (a thread
of its own reads anything else, such as a file), reads in large chunks,
matches header names case-insensitively, and discards an oversized body
while streaming it, so a 1 GiB message never sits in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from collections.abc import Callable
from typing import Final

import attrs

MAX_BODY: Final = 16 * 1024 * 1024
# More significant digits than any length worth skipping a body for: a header
# claiming exabytes is not a message but noise, answered and passed over. The
# bound also keeps int() clear of Python's limit on digits it will convert.
_MAX_DIGITS: Final = 18
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
        # Inside a header block too long to keep: drop it up to its end.
        self._in_long_header = False

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
        if self._skip or (self._in_long_header and not self._leave_long_header()):
            return None
        buf = self._buf
        if self._length is None:
            if not buf:
                return None  # the common end of a chunk: nothing left to parse
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
        if self._simple_header():
            return None
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
                # Answered now, skipped up to its end as it arrives. Only the
                # bytes searched go: the end of the block, and messages after
                # it, may already be in the buffer.
                del buf[: MAX_HEADER + 1]
                self._in_long_header = True
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

    def _simple_header(self) -> bool:
        """Consume the header block every client sends, one Content-Length
        line and nothing else, without the general parser; False otherwise."""
        buf = self._buf
        if not buf.startswith(b"Content-Length: "):
            return False
        end = buf.find(b"\r\n\r\n", 16, 32)
        if end == -1 or not buf[16:end].isdigit():
            return False
        length = int(buf[16:end])
        if length > MAX_BODY:
            return False
        self._length = length
        del buf[: end + 4]
        return True

    def _leave_long_header(self) -> bool:
        """Drop the rest of an over-long header block; True once past its end."""
        buf = self._buf
        ends = [(i, n) for i, n in ((buf.find(b"\r\n\r\n"), 4), (buf.find(b"\n\n"), 2)) if i != -1]
        if not ends:
            del buf[:-3]
            return False
        end, sep = min(ends)
        del buf[: end + sep]
        self._in_long_header = False
        return True


def _content_length(header: bytes) -> int | None:
    """The one Content-Length of a header block; None when missing, not a
    decimal number, absurdly long, or given twice with different values."""
    length: int | None = None
    for line in header.splitlines():
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() == b"content-length":
            digits = value.strip()
            if not digits.isdigit():
                return None
            digits = digits.lstrip(b"0") or b"0"
            if len(digits) > _MAX_DIGITS:
                return None
            this = int(digits)
            if length is not None and this != length:
                return None
            length = this
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


def read_frames_on_loop(
    fd: int, loop: asyncio.AbstractEventLoop, deliver: Callable[[list[Frame] | None], None]
) -> Callable[[], None] | None:
    """Read a pipe or socket on the event loop itself, as `read_frames` does in
    a thread; returns a function that stops reading, or None when `fd` is not
    pollable (a regular file, a terminal) and needs the thread.

    No thread hop between a request arriving and its handling: that hop was
    the largest part of a sequential round trip.
    """
    mode = os.fstat(fd).st_mode
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        return None
    parser = FrameParser()
    was_blocking = os.get_blocking(fd)
    os.set_blocking(fd, False)

    def stop() -> None:
        loop.remove_reader(fd)
        with contextlib.suppress(OSError):
            os.set_blocking(fd, was_blocking)

    def readable() -> None:
        try:
            data = os.read(fd, _CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            stop()
            deliver(None)
            return
        # One chunk a call: the loop comes back while more is waiting, and
        # meanwhile answers go out.
        frames = parser.feed(data)
        if frames:
            deliver(frames)

    loop.add_reader(fd, readable)
    return stop


def encode_frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n%b" % (len(body), body)
