"""A daemon whose stdin and stdout are one socket, as socat EXEC:, inetd or
systemd socket activation start it, and a client for that socket."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from idumb_daemon.protocol.framing import FrameParser
from tests.wire import WAIT, daemon_env

DAEMON = [sys.executable, "-m", "idumb_daemon"]


@contextmanager
def on_one_socket(
    db_path: Path, *args: str
) -> Iterator[tuple[socket.socket, subprocess.Popen[bytes]]]:
    """A daemon whose fds 0 and 1 are one end of a socketpair (as socat EXEC:
    or inetd give it); the test holds the other end."""
    ours, theirs = socket.socketpair()
    proc = subprocess.Popen(
        [*DAEMON, "--db", str(db_path), *args],
        stdin=theirs.fileno(),
        stdout=theirs.fileno(),
        stderr=subprocess.DEVNULL,
        env=daemon_env(),
    )
    theirs.close()
    try:
        yield ours, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(WAIT)
        ours.close()


def exchange(
    sock: socket.socket, data: bytes, answers: int, read_sizes: Callable[[], int] = lambda: 1 << 16
) -> bytes:
    """Send all of `data` while reading; once `answers` frames are in, end
    our side; everything the daemon wrote until it closed its end. Our side
    stays open until then: at the end of its input the daemon's reader makes
    the socket blocking again, which would hide the defect."""
    received = bytearray()
    parser = FrameParser()
    complete = threading.Event()
    sock.settimeout(WAIT)

    def read() -> None:
        frames = 0
        while chunk := sock.recv(read_sizes()):
            received.extend(chunk)
            frames += len(parser.feed(chunk))
            if frames >= answers:
                complete.set()
        complete.set()

    reader = threading.Thread(target=read)
    reader.start()
    sock.sendall(data)
    complete.wait(WAIT)
    sock.shutdown(socket.SHUT_WR)
    reader.join(WAIT)
    assert not reader.is_alive(), "daemon did not close its end"
    return bytes(received)
