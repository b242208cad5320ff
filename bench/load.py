"""A lean, closed-loop load generator's parts: raw HTTP/1.1 keep-alive, latency statistics, CPU time.

Why not aiohttp or httpx: on a small machine the generator shares the CPU with the server, and a
full-featured client costs about as much CPU per request as the server under test does. Here a
request is a bytes template filled in by hand and a response is a status line, a few headers and
`Content-Length` bytes of body. That is all a benchmark against our own uvicorn needs.

Only loopback is ever contacted: `HttpConnection` refuses any other host.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class HttpError(Exception):
    """The server answered something this client cannot use (or closed the connection)."""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    latency: float  # seconds, from the first byte written to the last byte read
    headers: tuple[tuple[bytes, bytes], ...] = ()  # (lower-case name, value), in the order received

    def header_values(self, name: bytes) -> list[bytes]:
        return [value for key, value in self.headers if key == name]


class HttpConnection:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1, reopened when the server closes it."""

    def __init__(self, port: int, host: str = LOOPBACK, timeout: float = 30.0) -> None:
        if host != LOOPBACK:
            raise ValueError(f"this load generator only talks to {LOOPBACK}, not {host!r}")
        self.host = host
        self.port = port
        self.timeout = timeout
        self.host_header = f"{host}:{port}".encode("ascii")
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.reconnects = -1  # the first connect is not a reconnect

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is not None and self._writer is not None:
            return self._reader, self._writer
        reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), self.timeout)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._reader, self._writer = reader, writer
        self.reconnects += 1
        return reader, writer

    async def request(
        self, method: str, target: str, body: bytes = b"", content_type: bytes = b"text/xml", extra_headers: bytes = b""
    ) -> Response:
        """Send one request and read its whole response; on any failure the connection is dropped.

        A kept-alive connection the server has closed while idle (uvicorn does after 5 s) fails
        before any byte of a response arrives; that one case is retried once on a new connection.
        """
        reused = self._writer is not None
        reader, writer = await self._connect()
        head = b"%s %s HTTP/1.1\r\nHost: %s\r\n" % (method.encode("ascii"), target.encode("ascii"), self.host_header)
        head += extra_headers  # whole lines, each ending in \r\n
        if body or method != "GET":
            head += b"Content-Type: %s\r\nContent-Length: %d\r\n" % (content_type, len(body))
        started = time.perf_counter()
        try:
            writer.write(head + b"\r\n" + body)
            status, payload, close, headers = await asyncio.wait_for(_read_response(reader), self.timeout)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, HttpError) as exc:
            await self.close()
            if reused and _closed_before_response(exc):
                return await self.request(method, target, body, content_type, extra_headers)
            if isinstance(exc, HttpError):
                raise
            raise HttpError(f"{type(exc).__name__}: {exc}") from exc
        latency = time.perf_counter() - started
        if close:
            await self.close()
        return Response(status, payload, latency, headers)

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _closed_before_response(exc: BaseException) -> bool:
    if isinstance(exc, asyncio.IncompleteReadError):
        return not exc.partial
    return isinstance(exc, ConnectionResetError | BrokenPipeError)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool, tuple[tuple[bytes, bytes], ...]]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise HttpError(f"bad status line {lines[0][:80]!r}")
    length = -1
    close = parts[0] == b"HTTP/1.0"
    headers: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name:
            headers.append((name, value.strip()))
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"connection":
            close = value.strip().lower() == b"close"
        elif name == b"transfer-encoding":
            raise HttpError("chunked responses are not supported by this lean client")
    if length < 0:
        raise HttpError("response without Content-Length")
    body = await reader.readexactly(length) if length else b""
    return int(parts[1]), body, close, tuple(headers)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


# ----------------------------------------------------------------------------------------------
# Statistics
# ----------------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_summary_ms(latencies: list[float]) -> dict[str, float]:
    values = sorted(latencies)
    return {
        "p50_ms": round(percentile(values, 0.50) * 1000, 2),
        "p95_ms": round(percentile(values, 0.95) * 1000, 2),
        "p99_ms": round(percentile(values, 0.99) * 1000, 2),
        "max_ms": round((values[-1] if values else 0.0) * 1000, 2),
    }


# ----------------------------------------------------------------------------------------------
# CPU time of a process tree (Linux /proc; no psutil needed)
# ----------------------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ")".
    return raw[raw.rindex(")") + 2 :].split()


def descendants(pid: int) -> list[int]:
    """`pid` and every live process below it (uvicorn workers, multiprocessing helpers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def tree_cpu_seconds(pid: int) -> dict[int, float]:
    """User + system CPU seconds of `pid` and each live descendant, by pid."""
    return cpu_seconds(descendants(pid))


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each of these processes that is still alive, by pid."""
    cpu: dict[int, float] = {}
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:  # fields[11], [12] are utime, stime (stat fields 14, 15)
            cpu[pid] = (int(fields[11]) + int(fields[12])) / _CLK_TCK
    return cpu


def reaped_children_cpu_seconds(pid: int) -> float:
    """CPU seconds of `pid`'s children that have exited and been waited for (cutime + cstime)."""
    fields = _stat_fields(pid)
    return 0.0 if fields is None else (int(fields[13]) + int(fields[14])) / _CLK_TCK


def parent_pid(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[1])


def pids_with_cmdline(*needles: str) -> list[int]:
    """Processes whose command line holds every needle, e.g. PostgreSQL backends of one database
    (their title is `postgres: <user> <database> 127.0.0.1(port) idle`)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if all(needle in cmdline for needle in needles):
            found.append(int(entry))
    return found


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two `tree_cpu_seconds` readings (processes born in between count whole)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def machine_busy_seconds() -> float:
    """CPU seconds all processors of the machine have spent busy since boot (/proc/stat; not idle/iowait)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _CLK_TCK


def self_cpu_seconds() -> float:
    """This process's own CPU time, all threads (user + system)."""
    return time.process_time()
