"""Group commit in the storage worker: order, durability before
acknowledgement, and a failing write failing only itself."""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import CancelledError
from pathlib import Path
from typing import Any

import pytest

from idumb_daemon.contracts import SettingsEntry
from idumb_daemon.protocol.server import open_storage
from idumb_daemon.storage import Storage, settings
from idumb_daemon.storage.database import resolve_url
from idumb_daemon.storage.errors import StorageBusy
from idumb_daemon.storage.sql import run
from idumb_daemon.storage.tx import Tx
from idumb_daemon.worker import Job, Outcome, StorageWorker, settle

WAIT = 30.0


@pytest.fixture
def worker(db_path: Path) -> Iterator[StorageWorker]:
    worker = StorageWorker(open_storage(resolve_url(db=str(db_path))))
    yield worker
    worker.stop(WAIT)


def _put(s: Storage, key: str, value: str) -> SettingsEntry:
    return s.write(settings.set_, key, value)


def committed(db_path: Path) -> dict[str, str]:
    """What another connection sees: only committed rows."""
    conn = sqlite3.connect(db_path, timeout=WAIT)
    try:
        return dict(conn.execute("SELECT key, value FROM settings").fetchall())
    finally:
        conn.close()


def test_a_group_runs_in_order_and_acknowledges_only_after_its_commit(
    worker: StorageWorker, db_path: Path
) -> None:
    seen_at_delivery: list[dict[str, str]] = []

    def deliver(outcomes: list[Outcome]) -> None:
        seen_at_delivery.append(committed(db_path))
        settle(outcomes)

    worker.deliver = deliver
    # Queued before the thread starts: they form one group behind the open.
    futures: list[Any] = []
    for i in range(50):
        futures.append(worker.submit(functools.partial(_put, key="k", value=str(i)), write=True))
        futures.append(worker.submit(lambda s: s.read(settings.get, "k"), write=False))
    worker.start()
    results = [f.result(WAIT) for f in futures]
    # Each read sees the write queued just before it: order of effect holds.
    assert [r.value for r in results[1::2]] == [str(i) for i in range(50)]
    # When the outcomes were handed back, the writes were already durable.
    assert any(state.get("k") == "49" for state in seen_at_delivery)
    assert all(state.get("k") in (None, "49") for state in seen_at_delivery)


def test_a_failing_write_in_a_group_fails_only_itself(worker: StorageWorker, db_path: Path) -> None:
    def broken(storage: Storage) -> None:
        # Writes, then fails: its own write must roll back with it.
        def op(tx: Tx) -> None:
            run(tx.db, "INSERT INTO settings (key, value) VALUES ('partial', 'x')")
            run(tx.db, "INSERT INTO no_such_table VALUES (1)")

        storage.write(op)

    before = worker.submit(lambda s: s.write(settings.set_, "before", "1"), write=True)
    failing = worker.submit(broken, write=True)
    after = worker.submit(lambda s: s.write(settings.set_, "after", "2"), write=True)
    worker.start()
    assert before.result(WAIT).value == "1"
    with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
        failing.result(WAIT)
    assert after.result(WAIT).value == "2"
    assert committed(db_path) == {"before": "1", "after": "2"}


def test_a_job_cancelled_before_it_runs_is_skipped(worker: StorageWorker, db_path: Path) -> None:
    kept = worker.submit(lambda s: s.write(settings.set_, "kept", "1"), write=True)
    dropped = worker.submit(lambda s: s.write(settings.set_, "dropped", "1"), write=True)
    assert dropped.cancel()
    worker.start()
    assert kept.result(WAIT).value == "1"
    assert dropped.cancelled()
    worker.stop(WAIT)
    assert committed(db_path) == {"kept": "1"}


def test_a_job_refuses_cancel_once_taken_and_settles_exactly_once() -> None:
    job: Job[str] = Job(lambda _s: "x", write=False)
    seen: list[str] = []
    job.add_done_callback(lambda j: seen.append(j.result()))
    assert job.start()
    assert not job.cancel()
    assert not job.done()
    with pytest.raises(TimeoutError):
        job.result(timeout=0)
    job.set_outcome("value", None)
    job.set_outcome("again", None)  # a second outcome changes nothing
    assert job.done() and not job.cancelled()
    assert seen == ["value"]
    job.add_done_callback(lambda j: seen.append(j.result()))  # already settled: runs now
    assert seen == ["value", "value"]


def test_a_cancelled_job_is_not_started_and_its_outcome_is_ignored() -> None:
    job: Job[str] = Job(lambda _s: "x", write=True)
    called: list[bool] = []
    job.add_done_callback(lambda j: called.append(j.cancelled()))
    assert job.cancel() and job.cancel()
    assert called == [True]
    assert not job.start()
    job.set_outcome("late", None)
    with pytest.raises(CancelledError):
        job.result(timeout=0)


def test_a_job_failure_reaches_a_waiter_on_another_thread(
    worker: StorageWorker,
) -> None:
    def broken(_storage: Storage) -> None:
        raise ValueError("broken")

    job = worker.submit(broken, write=True)
    worker.start()  # settled on the storage thread; this thread waits
    assert isinstance(job.exception(WAIT), ValueError)
    with pytest.raises(ValueError, match="broken"):
        job.result(WAIT)


def test_abandon_ends_a_lock_wait_and_cancels_what_is_queued(db_path: Path) -> None:
    worker = StorageWorker(open_storage(resolve_url(db=str(db_path)), busy_timeout=60))
    worker.start()
    assert (
        worker.submit(lambda s: s.write(settings.set_, "seed", "0"), write=True).result(WAIT).value
        == "0"
    )
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        # Taken together, they wait for the lock as one group.
        waiting = worker.submit(lambda s: s.write(settings.set_, "waiting", "1"), write=True)
        queued = [
            worker.submit(functools.partial(_put, key=f"q{i}", value="1"), write=True)
            for i in range(3)
        ]
        worker.abandon()
        # Cancelled, well before the 60 s busy timeout would have passed.
        for job in [waiting, *queued]:
            with pytest.raises(CancelledError):
                job.result(WAIT)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert worker.stop(WAIT)
    assert committed(db_path) == {"seed": "0"}


def test_a_group_lost_to_a_trigger_s_rollback_runs_again_alone(
    worker: StorageWorker, db_path: Path
) -> None:
    worker.submit(lambda s: s.write(settings.set_, "seed", "0"), write=True)
    worker.start()
    worker.submit(lambda s: s.read(settings.get, "seed"), write=False).result(WAIT)
    conn = sqlite3.connect(db_path)
    conn.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON settings WHEN NEW.key = 'bad' "
        "BEGIN SELECT RAISE(ROLLBACK, 'refused'); END"
    )
    conn.close()
    # Held up behind a job that waits, the writes are taken as one group.
    release = threading.Event()
    worker.submit(lambda _s: release.wait(WAIT), write=False)
    keys = ["a", "bad", "b", "c"]
    jobs = [worker.submit(functools.partial(_put, key=k, value=k), write=True) for k in keys]
    release.set()
    outcomes = {k: job.exception(WAIT) for k, job in zip(keys, jobs, strict=True)}
    assert [k for k, error in outcomes.items() if error is not None] == ["bad"]
    assert committed(db_path) == {"seed": "0", "a": "a", "b": "b", "c": "c"}


def test_a_read_waits_on_the_storage_thread_while_storage_is_not_open(db_path: Path) -> None:
    storage = open_storage(resolve_url(db=str(db_path)))
    worker = StorageWorker(storage)
    worker.read_inline_here()
    # Not open yet: an inline read would open it here, on the submitting thread.
    job = worker.submit(lambda s: s.read(settings.get, "k"), write=False)
    assert isinstance(job, Job)
    worker.start()
    assert job.result(WAIT) is None
    assert storage.is_open
    worker.stop(WAIT)


def test_an_inline_read_that_meets_a_lock_waits_for_it_on_the_storage_thread(
    db_path: Path,
) -> None:
    """The submitting thread's connection never waits for a lock (a lone
    write there must not block the event loop): a read refused a lock there
    (SQLITE_BUSY while another process recovers the WAL, say) is queued to
    the storage thread, which waits, rather than answered busy."""
    storage = open_storage(resolve_url(db=str(db_path)))
    worker = StorageWorker(storage)
    worker.read_inline_here()
    worker.deliver = worker.settle_here  # as the server settles: inline calls need it
    worker.start()
    here = threading.get_ident()
    ran_on: list[bool] = []

    def read(s: Storage) -> str:
        ran_on.append(threading.get_ident() == here)
        if threading.get_ident() == here:
            raise StorageBusy("database is locked")
        return "read on the storage thread"

    try:
        worker.submit(lambda s: s.read(settings.get, "k"), write=False).result(WAIT)
        job = worker.submit(read, write=False)
        assert isinstance(job, Job)
        assert job.result(WAIT) == "read on the storage thread"
        assert ran_on == [True, False]  # tried here first, then waited there
    finally:
        worker.stop(WAIT)
