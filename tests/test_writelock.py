"""The OS lock that queues daemons for SQLite's write lock (storage/writelock.py),
in process: two WriteLocks on one database are two open files, which flock
orders as it orders two processes. Their folder is the test's own."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

from idumb_daemon.storage.writelock import WriteLock, lock_folder

BOUND = 10.0  # seconds: any wait here is bounded
IDENTITY = (1, 2)  # a database file's (device, inode): only the lock's name


def test_a_waiter_gets_the_lock_when_the_holder_lets_go(tmp_path: Path) -> None:
    folder = lock_folder(tmp_path)
    assert folder is not None and stat.S_IMODE(folder.stat().st_mode) == 0o700
    first, second = WriteLock(IDENTITY, folder), WriteLock(IDENTITY, folder)
    try:
        assert first.acquire(0.0)
        assert first.path is not None
        assert stat.S_IMODE(first.path.stat().st_mode) == 0o600
        assert not second.acquire(0.0)  # held: refused without waiting
        got: list[bool] = []
        waiter = threading.Thread(target=lambda: got.append(second.acquire(BOUND)))
        waiter.start()
        first.release()
        waiter.join(BOUND)
        assert got == [True]
        assert not first.acquire(0.0)  # now the second holds it
        second.release()
        # The refusal left a wait going, which got the lock as it was let go.
        assert first.acquire(BOUND)
        first.release()
    finally:
        first.close()
        second.close()
    assert list(folder.iterdir()) == []  # the last user removed it


def test_a_lock_file_in_use_elsewhere_is_left_and_a_removed_one_is_not_trusted(
    tmp_path: Path,
) -> None:
    first, second = WriteLock(IDENTITY, tmp_path), WriteLock(IDENTITY, tmp_path)
    assert first.acquire(0.0)
    first.release()
    assert second.acquire(0.0)
    first.close()  # the second holds it: the file stays
    assert second.path is not None and second.path.exists()
    second.release()
    second.close()
    assert not second.path.exists()
    # A third opens a new file at the path; one still holding the removed
    # file must not think it shares a lock with it.
    third, fourth = WriteLock(IDENTITY, tmp_path), WriteLock(IDENTITY, tmp_path)
    try:
        assert third.acquire(0.0)
        assert not fourth.acquire(0.0)
        third.release()
    finally:
        third.close()
        fourth.close()


def test_a_folder_that_refuses_the_file_leaves_writes_to_sqlites_lock(tmp_path: Path) -> None:
    lock = WriteLock(IDENTITY, tmp_path / "missing-folder")
    assert lock.acquire(0.0)  # no file can be made: nothing to wait for
    lock.release()
    lock.close()


def test_a_lock_folder_others_may_enter_is_not_used(tmp_path: Path) -> None:
    folder = lock_folder(tmp_path)
    assert folder is not None
    folder.chmod(0o777)
    assert lock_folder(tmp_path) is None


def test_a_holder_of_a_removed_file_takes_the_lock_of_the_file_now_at_the_path(
    tmp_path: Path,
) -> None:
    kept, closer, newcomer = (WriteLock(IDENTITY, tmp_path) for _ in range(3))
    try:
        assert kept.acquire(0.0)  # opens the file, and keeps it open
        kept.release()
        assert closer.acquire(0.0)
        closer.release()
        closer.close()  # nobody holds it: removed, though `kept` has it open
        assert closer.path is not None and not closer.path.exists()
        assert newcomer.acquire(0.0)  # a new file at the path
        # Locking its removed file would let both write at once.
        assert not kept.acquire(0.0)
        newcomer.release()
        assert kept.acquire(1.0)
        kept.release()
    finally:
        for lock in (kept, closer, newcomer):
            lock.close()
