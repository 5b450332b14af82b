"""The one thread that does all database work, in arrival order.

dataset keeps a connection and transaction per thread, and a transaction must
never span an `await`; so the event loop hands storage calls to this thread
as jobs and answers once each job is settled. Keeping one FIFO queue gives the
protocol its ordering guarantee: a request's effect is ordered after every
earlier request's (a read with nothing queued or unsettled before it runs at
once instead, which keeps that guarantee, and so does a write that came alone:
it never waits for a lock there, a taken one sends it to this thread).

Group commit: writes queued together run in one transaction, each in its own
savepoint, and are acknowledged together after the single durable commit.
One fsync then covers many writes, and a failing write rolls back only its
own savepoint. When the group's transaction fails as a whole (its commit, or
a trigger's RAISE(ROLLBACK) that takes every savepoint with it), nothing in
it is durable, and each job is run again alone, so only the culprit fails.

Lock waits are cut into slices: the busy timeout (SQLite's, PostgreSQL's
lock_timeout) is set to a fraction of a second and the worker retries a
refused transaction until the configured timeout has passed, checking
between slices whether the daemon is stopping. SQLite's busy handler sleeps
inside the C call, where neither a signal nor `Connection.interrupt()`
reaches it. A group in which one job met the lock is rolled back and run
again whole, so no job in it is ordered before another it followed.

Outcomes travel back a batch at a time through `deliver`: the server sets it
to hop once to the event loop and settle every job there, in queue order,
so a batch of 256 answers costs one wake-up of the loop instead of 256.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from typing import Any, Final, Generic, TypeVar

from idumb_daemon.storage import Storage
from idumb_daemon.storage.errors import FatalStorageError, StorageBusy

log = logging.getLogger(__name__)
T = TypeVar("T")

# Bounds the latency a write can add to the group it joins.
MAX_GROUP: Final = 256
# The longest one lock wait lasts before the worker looks whether to go on.
BUSY_SLICE: Final = 0.1


_PENDING: Final = 0
_RUNNING: Final = 1
_CANCELLED: Final = 2
_FINISHED: Final = 3

# One lock for the state of every job: taking a free lock costs far less than
# the Condition each concurrent.futures.Future builds, and the lock is only
# ever held for a few attribute reads and writes.
_STATE = threading.Lock()


class Job(Generic[T]):
    """A queued storage call, and its outcome once settled: the interface
    of a concurrent Future that the protocol uses (done, cancel, result, a
    done callback), at a fraction of its cost per request.

    Settled by `settle` on the thread that delivers outcomes; done callbacks
    run there, or at once in `add_done_callback` once settled.
    """

    __slots__ = ("_callbacks", "_error", "_state", "_value", "_waiter", "alone", "call", "write")

    def __init__(self, call: Callable[[Storage], T], *, write: bool, alone: bool = False) -> None:
        self.call = call
        self.write = write
        self.alone = alone  # never joins a group commit: it sees only committed state
        self._state = _PENDING
        self._value: T | None = None
        self._error: BaseException | None = None
        self._callbacks: list[Callable[[Job[T]], object]] = []
        self._waiter: threading.Event | None = None

    def done(self) -> bool:
        return self._state >= _CANCELLED

    def cancelled(self) -> bool:
        return self._state == _CANCELLED

    def cancel(self) -> bool:
        """Cancel a job the storage thread has not taken yet."""
        with _STATE:
            if self._state == _PENDING:
                self._state = _CANCELLED
            elif self._state != _CANCELLED:
                return False
        self._finish()
        return True

    def start(self) -> bool:
        """Called by the storage thread as it takes the job: False if cancelled."""
        with _STATE:
            if self._state != _PENDING:
                return False
            self._state = _RUNNING
            return True

    def set_outcome(self, value: T | None, error: BaseException | None) -> None:
        """Settle once; a CancelledError settles it as cancelled (abandoned at
        a stop: it ran to no effect)."""
        with _STATE:
            if self._state >= _CANCELLED:  # cancelled before it ran, or settled
                return
            if isinstance(error, CancelledError):
                self._state = _CANCELLED
            else:
                self._value, self._error, self._state = value, error, _FINISHED
        self._finish()

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self._wait(timeout)
        if self._state == _CANCELLED:
            raise CancelledError
        return self._error

    def result(self, timeout: float | None = None) -> T:
        if (error := self.exception(timeout)) is not None:
            raise error
        return self._value  # type: ignore[return-value]

    def add_done_callback(self, fn: Callable[[Job[T]], object]) -> None:
        with _STATE:
            if self._state < _CANCELLED:
                self._callbacks.append(fn)
                return
        fn(self)

    def _wait(self, timeout: float | None) -> None:
        """Block until settled, for a caller on another thread (tests, tools)."""
        with _STATE:
            if self._state >= _CANCELLED:
                return
            if self._waiter is None:
                self._waiter = threading.Event()
            waiter = self._waiter
        if not waiter.wait(timeout):
            raise TimeoutError(f"storage job not done within {timeout} s")

    def _finish(self) -> None:
        with _STATE:
            callbacks, self._callbacks = self._callbacks, []
            waiter = self._waiter
        if waiter is not None:
            waiter.set()
        for fn in callbacks:
            try:
                fn(self)
            except Exception:
                log.exception("a storage job's done callback failed")


_STOP: Final = object()


class Done(Generic[T]):
    """An outcome known at once (a read run inline), with the same interface."""

    __slots__ = ("error", "value")

    def __init__(self, value: T | None = None, error: BaseException | None = None) -> None:
        self.value = value
        self.error = error

    def done(self) -> bool:
        return True

    def cancel(self) -> bool:
        return False

    def cancelled(self) -> bool:
        return False

    def exception(self, timeout: float | None = None) -> BaseException | None:
        return self.error

    def result(self, timeout: float | None = None) -> T:
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]

    def add_done_callback(self, fn: Callable[[Done[T]], object]) -> None:
        fn(self)


Pending = Job[T] | Done[T]
"""What a storage call returns: queued (a Job) or already done."""

Outcome = tuple[Job[Any], Any, BaseException | None]


def settle(outcomes: list[Outcome]) -> None:
    """Settle jobs in order; their callbacks run on the calling thread.
    A job cancelled before it ran is in the list, already settled."""
    for job, result, error in outcomes:
        job.set_outcome(result, error)


class StorageWorker:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        # How long a transaction may wait for the lock in all; each wait the
        # database does by itself is one slice of it (see the module's doc).
        self.busy_timeout = storage.busy_timeout
        storage.busy_timeout = min(BUSY_SLICE, storage.busy_timeout)
        # Set by `abandon`: jobs not yet run end cancelled, a lock wait ends.
        self._abandoned = threading.Event()
        self._queue: queue.SimpleQueue[Job[Any] | object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="storage", daemon=True)
        # Called on this thread when the database must not be served at all.
        self.on_fatal: Callable[[BaseException], None] = lambda _exc: None
        # Called on this thread with each batch's outcomes, in queue order.
        self.deliver: Callable[[list[Outcome]], None] = settle
        self._outcomes: list[Outcome] = []
        self._inline_reads = False
        # Set for a request that came alone: a write may then run inline once.
        self._lone_write = False
        self._in_flight = 0

    def start(self) -> None:
        self._thread.start()

    def read_inline_here(self) -> None:
        """Let reads and writes submitted from the calling thread run at once
        when nothing is ahead of them (see submit). Only for SQLite, and only
        where `deliver` settles on this very thread, through settle_here."""
        self.storage.read_alone_on_this_thread()
        self._inline_reads = True

    def expect_lone_request(self, lone: bool) -> None:
        """Whether the input read now holds a single request. Only then may a
        write run inline: writes that come together are committed together,
        with one sync, on the storage thread."""
        self._lone_write = lone

    def submit(
        self, call: Callable[[Storage], T], *, write: bool, inline: bool = True
    ) -> Pending[T]:
        """Queue a storage call, or run it at once when nothing is ahead of it
        (unless `inline` is off; a write only when it came alone)."""
        if (
            inline
            and self._inline_reads
            and self._in_flight == 0
            # Opening (or re-opening) may wait for a lock: never on the loop.
            and self.storage.is_open
        ):
            if not write:
                return self._run_inline(call)
            if self._lone_write:
                self._lone_write = False
                return self._run_inline_write(call)
        return self._enqueue(Job(call, write=write))

    def submit_alone(self, call: Callable[[Storage], T]) -> Future[T]:
        """Queue a call that never joins a group commit: it sees only committed
        state. Rare, so it gets a full concurrent Future, one asyncio can await."""
        future: Future[T] = Future()
        future.set_running_or_notify_cancel()  # a queued job is not cancelled through it
        self._enqueue(Job(call, write=False, alone=True)).add_done_callback(
            lambda job: _copy_outcome(job, future)
        )
        return future

    def _enqueue(self, job: Job[T]) -> Job[T]:
        self._in_flight += 1
        self._queue.put(job)
        return job

    def settle_here(self, outcomes: list[Outcome]) -> None:
        """Settle a delivered batch on the submitting thread."""
        self._in_flight -= len(outcomes)
        settle(outcomes)

    def _run_inline(self, call: Callable[[Storage], T]) -> Pending[T]:
        """A read with nothing queued or unsettled before it runs now, on the
        submitting thread's own connection: every earlier write is committed,
        so it sees them, and it skips two thread hops. Only SQLite: there a
        lone SELECT is its own transaction and pins no snapshot."""
        try:
            return Done(call(self.storage))
        except StorageBusy:
            # This thread's connection never waits (see _run_inline_write):
            # a read that met a lock (another process recovering the WAL)
            # waits on the storage thread instead.
            return self._enqueue(Job(call, write=False))
        except Exception as exc:
            return Done(error=exc)

    def _run_inline_write(self, call: Callable[[Storage], T]) -> Pending[T]:
        """A lone write runs at once too, in its own transaction, answered
        after its commit as the storage thread's are, but without the two
        thread hops (a third of a sequential write's round trip). It never
        waits for a lock on this thread: a write that finds it held did
        nothing, and goes to the storage thread to wait there."""
        try:
            return Done(call(self.storage))
        except StorageBusy:
            return self._enqueue(Job(call, write=True))
        except Exception as exc:
            return Done(error=exc)

    def stop(self, timeout: float | None = None) -> bool:
        """Finish every queued job, close storage, end the thread; False if
        it has not ended within `timeout`."""
        self._queue.put(_STOP)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def abandon(self) -> None:
        """For a stop in a hurry (a signal): every job not yet begun ends
        cancelled, and a transaction still waiting for the lock gives up and
        its jobs end cancelled. One already holding the lock finishes."""
        self._abandoned.set()

    def _run(self) -> None:
        try:
            self.storage.open()
        except FatalStorageError as exc:
            self.on_fatal(exc)
        except Exception as exc:
            # Storage.open() keeps storage failures itself; anything reaching
            # here is a bug, and the daemon must still answer (with -32603 or
            # -31006) rather than leave requests hanging.
            log.exception("opening storage failed")
            self.on_fatal(exc)
        running = True
        while running:
            batch: list[Job[Any]] = []
            item = self._queue.get()
            while True:
                if item is _STOP:
                    running = False
                    break
                assert isinstance(item, Job)
                # A job cancelled before it started is skipped; once running it
                # can no longer be cancelled.
                if not item.start():
                    self._settle(item, None, None)
                elif self._abandoned.is_set():
                    self._settle(item, None, CancelledError())
                else:
                    batch.append(item)
                if len(batch) >= MAX_GROUP:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._run_batch(batch)
            if self._outcomes:
                outcomes, self._outcomes = self._outcomes, []
                self.deliver(outcomes)
        try:
            self.storage.close()
        except Exception:
            log.exception("closing storage failed")

    def _settle(self, job: Job[Any], result: Any, error: BaseException | None) -> None:
        self._outcomes.append((job, result, error))

    def _run_batch(self, batch: list[Job[Any]]) -> None:
        start = 0
        for i, job in enumerate(batch):
            if job.alone:
                self._run_group(batch[start:i])
                self._run_group([job])
                start = i + 1
        self._run_group(batch[start:])

    def _run_group(self, batch: list[Job[Any]]) -> None:
        # Even a run of reads shares one transaction: beginning and ending
        # one costs more than the lookup itself.
        if len(batch) < 2:
            for job in batch:
                self._settle(job, *self._attempt(job.call))
            return
        writes = any(job.write for job in batch)
        outcomes: list[tuple[Any, BaseException | None]] = []
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                with self.storage.group(write=writes):
                    outcomes = [_attempt(job.call, self.storage) for job in batch]
                    if any(isinstance(error, StorageBusy) for _, error in outcomes):
                        if self._abandoned.is_set():
                            raise _Abandoned
                        if self._wait_more(deadline):
                            raise _TryAgain
            except _TryAgain:
                outcomes = []
                continue
            except _Abandoned:
                for job in batch:
                    self._settle(job, None, CancelledError())
                return
            except StorageBusy as exc:
                if outcomes or not self._wait_more(deadline):
                    self._group_failed(batch, outcomes, exc)
                    return
                continue
            except Exception as exc:
                self._group_failed(batch, outcomes, exc)
                return
            break
        for job, (result, error) in zip(batch, outcomes, strict=True):
            self._settle(job, result, error)

    def _group_failed(
        self,
        batch: list[Job[Any]],
        outcomes: list[tuple[Any, BaseException | None]],
        exc: BaseException,
    ) -> None:
        if self._abandoned.is_set() and isinstance(exc, StorageBusy):
            for job in batch:
                self._settle(job, None, CancelledError())
            return
        if not outcomes:
            # It could not begin. Writes refused the lock get the error at
            # once, not each after a busy timeout of its own; reads need no
            # lock, and any other failure each job meets afresh.
            for job in batch:
                if job.write and isinstance(exc, StorageBusy):
                    self._settle(job, None, exc)
                else:
                    self._settle(job, *self._attempt(job.call))
            return
        if not any(job.write for job in batch):
            # A run of reads whose ending failed still read one consistent
            # snapshot: their answers stand.
            for job, (result, error) in zip(batch, outcomes, strict=True):
                self._settle(job, result, error)
            return
        # The transaction failed as a whole: nothing in it is durable. Each
        # job runs again alone, so only the one at fault fails.
        log.info("group of %d failed (%s): each runs alone", len(batch), exc)
        for job in batch:
            self._settle(job, *self._attempt(job.call))

    def _attempt(self, call: Callable[[Storage], Any]) -> tuple[Any, BaseException | None]:
        """One call in a transaction of its own, waiting for the lock slice
        by slice up to the busy timeout."""
        deadline = time.monotonic() + self.busy_timeout
        while True:
            result, error = _attempt(call, self.storage)
            if not isinstance(error, StorageBusy) or not self._wait_more(deadline):
                if isinstance(error, StorageBusy) and self._abandoned.is_set():
                    return None, CancelledError()
                return result, error

    def _wait_more(self, deadline: float) -> bool:
        """Whether a transaction refused the lock tries again."""
        return not self._abandoned.is_set() and time.monotonic() < deadline


class _TryAgain(Exception):
    """Rolls back a group in which a job was refused a lock (on PostgreSQL,
    row and table locks are met mid-transaction), to run it again whole."""


class _Abandoned(Exception):
    """Rolls back such a group for good: the daemon is stopping."""


def _attempt(call: Callable[[Storage], Any], storage: Storage) -> tuple[Any, BaseException | None]:
    try:
        return call(storage), None
    except Exception as exc:
        return None, exc


def _copy_outcome(job: Job[T], future: Future[T]) -> None:
    if job.cancelled():
        # Abandoned at a stop; the future is running, so it cannot be cancelled.
        future.set_exception(CancelledError())
    elif (error := job.exception()) is not None:
        future.set_exception(error)
    else:
        future.set_result(job.result())
