"""What /proc tells about a process and the machine (Linux only)."""

from __future__ import annotations

import contextlib
import os
import platform
from pathlib import Path


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0])
    raise LookupError(f"/proc/{pid}/status has no {field}")


def rss_mib(pid: int) -> float:
    """Resident memory now."""
    return _status_kib(pid, "VmRSS") / 1024


def peak_rss_mib(pid: int) -> float:
    """The high-water mark of resident memory over the process's life so far."""
    return _status_kib(pid, "VmHWM") / 1024


def cpu_seconds(pid: int) -> float:
    """User plus system time of every thread of the process."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name may hold spaces and parentheses: fields start after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    # utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def thread_cpu_ns(pid: int) -> dict[int, int] | None:
    """Nanoseconds each live thread of the process has run, by thread id
    (schedstat's first field); None where the kernel does not keep it.
    Precise where `cpu_seconds` counts in clock ticks of 10 ms, but a thread
    that has ended is no longer in it."""
    times = {}
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(FileNotFoundError):  # a thread that just ended
                times[int(tid)] = int(
                    Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0]
                )
    except FileNotFoundError:
        return None
    return times or None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == "model name":
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    return len(os.sched_getaffinity(0))
