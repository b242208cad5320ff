"""Benchmark a login flood against a real server: do the WeChat callbacks keep their deadline?

What it does, in order:

1. makes a fresh database (SQLite in a temp dir, or a new `shangliang_bench_<random>` database on
   the PostgreSQL server named by `--database-url`, dropped afterwards), migrates it, adds a room and
   an admin login (`shangliang admin create office --password …`);
2. starts `shangliang serve --host 127.0.0.1 --port <free> --workers N` in safe mode, scheduler off;
3. warms up, notes the server's memory (VmRSS of all its processes);
4. **quiet**: `--residents` simulated residents walk 提议题 dialogs for `--quiet` seconds, every
   message AES-encrypted and signed like WeChat's, closed loop (bench/callback.py's residents, every
   reply checked);
5. **flood**, once per `--modes` entry, `--duration` seconds each: the same residents, plus
   `--flooders` concurrent clients posting `/admin/login` with random names and passwords as fast as
   the server answers (each first opens the login page for its cookie and form token, as a browser
   or a script would). Mode `one`: all from 127.0.0.1 (the issue's flood). Mode `many`: every
   attempt with a random `X-Forwarded-For` (uvicorn trusts it from 127.0.0.1), i.e. a flood from
   thousands of addresses that no per-address limit stops;
6. prints, per phase: callbacks/s, latency p50/p95/p99/max, callbacks past WeChat's 5 s and replies
   that missed the 4 s reply deadline, login answers by kind, and the server's memory after the
   phase and its peak — beside the figures of the issue (before the fix).

Run from the repository root:  python bench/login_flood.py [--duration 20] [--modes one,many] [--json]
Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import random
import re
import secrets
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/login_flood.py` puts bench/ first on sys.path, not the root
    sys.path.insert(0, str(ROOT))

from bench.callback import (  # noqa: E402
    APP_ID,
    RECOVERY_PAUSE,
    TOKEN,
    BenchError,
    ReplyError,
    Resident,
    Server,
    Stats,
    aes_key,
    fresh_database,
    git_commit,
    progress,
    run_cli,
    server_env,
)
from bench.load import LOOPBACK, HttpConnection, HttpError, descendants, free_port, latency_summary_ms  # noqa: E402
from tests.wxclient import CallbackCrypto  # noqa: E402

ADMIN = "office"
ADMIN_PASSWORD = secrets.token_urlsafe(16)
WECHAT_DEADLINE = 5.0
DEFAULT_TIMEOUT = 600.0
# The figures of issue 10 (before the fix): 60 concurrent clients, random names, 30 s.
ISSUE = {
    "quiet": {"callbacks_per_s": 98.0, "rss_mb": 496.0},
    "flood": {"callbacks_per_s": 2.5, "p95_ms": 8200.0, "past_5s": 6, "rss_mb": 2300.0},
}
_TOKEN = re.compile(rb'name="csrf_token" value="([^"]+)"')


# ----------------------------------------------------------------------------------------------
# The flood
# ----------------------------------------------------------------------------------------------


@dataclass
class LoginCounts:
    kinds: collections.Counter[str] = field(default_factory=collections.Counter)
    latencies: list[float] = field(default_factory=list)

    def add(self, status: int, body: bytes, latency: float) -> None:
        self.latencies.append(latency)
        if status == 429:
            self.kinds["429 busy" if "较多".encode() in body else "429 limited"] += 1
        else:
            self.kinds[str(status)] += 1


class Flooder:
    """One client posting random logins on its own keep-alive connection until `until`."""

    def __init__(self, port: int, spread: bool, counts: LoginCounts, seed: int) -> None:
        self.conn = HttpConnection(port, LOOPBACK, timeout=60)
        self.origin = f"http://{LOOPBACK}:{port}".encode()
        self.spread = spread
        self.counts = counts
        self.rng = random.Random(seed)
        self.cookie = b""
        self.token = ""

    def _keep_cookie(self, headers: tuple[tuple[bytes, bytes], ...]) -> None:
        for name, value in headers:
            if name == b"set-cookie" and value.startswith(b"shangliang_admin="):
                self.cookie = value.split(b";", 1)[0]

    def _headers(self) -> bytes:
        lines = b"Origin: %s\r\n" % self.origin
        if self.cookie:
            lines += b"Cookie: %s\r\n" % self.cookie
        if self.spread:
            address = ".".join(str(self.rng.randrange(1, 255)) for _ in range(4))
            lines += b"X-Forwarded-For: %s\r\n" % address.encode()
        return lines

    async def run(self, until: float) -> None:
        try:
            page = await self.conn.request("GET", "/admin/login")
            self._keep_cookie(page.headers)
            found = _TOKEN.search(page.body)
            self.token = found.group(1).decode() if found else ""  # none before the CSRF guard existed
            while time.monotonic() < until:
                name = "u" + "".join(self.rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=10))
                form = {"username": name, "password": secrets.token_urlsafe(12)}
                if self.token:
                    form["csrf_token"] = self.token
                body = urlencode(form).encode()
                try:
                    reply = await self.conn.request(
                        "POST", "/admin/login", body, b"application/x-www-form-urlencoded", self._headers()
                    )
                except HttpError:
                    self.counts.kinds["connection error"] += 1
                    continue
                self._keep_cookie(reply.headers)
                self.counts.add(reply.status, reply.body, reply.latency)
        finally:
            await self.conn.close()


# ----------------------------------------------------------------------------------------------
# The residents, for a fixed time
# ----------------------------------------------------------------------------------------------


async def resident_loop(person: Resident, until: float) -> None:
    round_no = 0
    try:
        while time.monotonic() < until:
            try:
                await person.dialog(round_no)
            except ReplyError as exc:
                person.stats.errors += 1
                person.stats.failed(exc.kind, f"{person.openid}: {exc}")
                # As bench/callback.py: let a reply it gave up on be processed before the next dialog.
                await asyncio.sleep(max(0.0, min(RECOVERY_PAUSE, until - time.monotonic())))
            round_no += 1
    finally:
        await person.conn.close()


async def phase(
    port: int, crypto: CallbackCrypto, args: argparse.Namespace, name: str, mode: str | None
) -> dict[str, Any]:
    seconds = args.quiet if mode is None else args.duration
    stats, counts = Stats(), LoginCounts()
    slug = re.sub(r"\W", "_", name)
    residents = [Resident(i, f"o_{slug}_{i:04d}", port, crypto, stats) for i in range(args.residents)]
    started = time.monotonic()
    until = started + seconds
    tasks = [resident_loop(r, until) for r in residents]
    if mode is not None:
        tasks += [Flooder(port, mode == "many", counts, seed).run(until) for seed in range(args.flooders)]
    await asyncio.gather(*tasks)
    wall = time.monotonic() - started
    logins = sum(counts.kinds.values())
    return {
        "phase": name,
        "seconds": round(wall, 1),
        "callbacks": stats.messages,
        "callbacks_per_s": round(stats.messages / wall, 1) if wall else 0.0,
        **latency_summary_ms(stats.latencies),
        "past_5s": sum(1 for latency in stats.latencies if latency > WECHAT_DEADLINE),
        "late_replies": stats.late,
        "errors": stats.errors,
        "error_kinds": dict(stats.error_kinds),
        "logins": logins,
        "logins_per_s": round(logins / wall, 1) if wall else 0.0,
        "login_answers": dict(counts.kinds),
        "login_p95_ms": latency_summary_ms(counts.latencies)["p95_ms"],
    }


# ----------------------------------------------------------------------------------------------
# Memory of the server's processes
# ----------------------------------------------------------------------------------------------


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) summed over the server and its workers, in MB."""
    rss = peak = 0.0
    for child in descendants(pid):
        try:
            status = Path(f"/proc/{child}/status").read_text()
        except OSError:
            continue
        values = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.M))
        rss += int(values.get("VmRSS", 0)) / 1024
        peak += int(values.get("VmHWM", 0)) / 1024
    return round(rss, 1), round(peak, 1)


# ----------------------------------------------------------------------------------------------
# Putting it together
# ----------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    deadline = time.monotonic() + args.timeout
    key = aes_key()
    crypto = CallbackCrypto(TOKEN, key, APP_ID)
    with tempfile.TemporaryDirectory(prefix="shangliang-flood-") as tmp:
        workdir = Path(tmp)  # the server's cwd: no stray .env is read
        with fresh_database(args.database_url, workdir) as database:
            port = free_port()
            env = server_env(database.url, key, port)
            progress(f"database: {database.backend}; migrating, adding a room and the admin login")
            run_cli(["db", "upgrade"], env, workdir, deadline - time.monotonic())
            run_cli(["room", "add", "幸福社区议事室", "--level", "village"], env, workdir, deadline - time.monotonic())
            run_cli(["admin", "create", ADMIN, "--password", ADMIN_PASSWORD], env, workdir, deadline - time.monotonic())
            progress(f"starting the server on {LOOPBACK}:{port} with {args.workers} worker(s)")
            server = Server(env, workdir, port, args.workers, workdir / "server.log")
            phases: list[dict[str, Any]] = []
            try:
                asyncio.run(server.wait_healthy(min(deadline, time.monotonic() + 90)))
                progress("warming up (2 residents, 5 s, not counted)")
                warm = argparse.Namespace(**{**vars(args), "residents": 2, "quiet": 5.0})
                asyncio.run(phase(port, crypto, warm, "warm", None))
                server.wait_idle(min(deadline, time.monotonic() + 10))
                server.remember_family()
                rss_before, _ = memory_mb(server.proc.pid)
                progress(f"server memory after warm-up: {rss_before:.0f} MB")
                for name, mode in [("quiet", None), *((f"flood from {m}", m) for m in args.modes)]:
                    if time.monotonic() + (args.duration if mode else args.quiet) + 30 > deadline:
                        raise BenchError(f"--timeout {args.timeout:.0f} s is too short for every phase")
                    who = f" + {args.flooders} login flooders ({mode})" if mode else ""
                    progress(f"{name}: {args.residents} residents{who}")
                    result = asyncio.run(phase(port, crypto, args, name, mode))
                    if server.proc.poll() is not None:
                        raise BenchError(f"the server died during {name}:\n{server.log_tail()}")
                    result["rss_mb"], result["peak_rss_mb"] = memory_mb(server.proc.pid)
                    phases.append(result)
                    server.wait_idle(min(deadline, time.monotonic() + 15))
            finally:
                server.stop()
    return {
        "backend": database.backend,
        "workers": args.workers,
        "residents": args.residents,
        "flooders": args.flooders,
        "rss_before_mb": rss_before,
        "phases": phases,
        "commit": git_commit(),
        "python": sys.version.split()[0],
    }


def report(result: dict[str, Any]) -> str:
    r = result
    head = (
        f"shangliang login flood: {r['residents']} residents (signed, encrypted 提议题 dialogs) "
        f"+ {r['flooders']} clients posting /admin/login; {r['backend']}, {r['workers']} worker(s), "
        f"commit {r['commit']}, Python {r['python']}"
    )
    columns = "  {:<28} {:>11} {:>8} {:>8} {:>8} {:>8} {:>7} {:>5} {:>9} {:>10}  {}"
    lines = [
        head,
        f"  server memory after warm-up: {r['rss_before_mb']:.0f} MB (issue: {ISSUE['quiet']['rss_mb']:.0f} MB)",
        "",
        columns.format(
            "phase", "callbacks/s", "p50 ms", "p95 ms", "p99 ms", "max ms", ">5 s", "late", "logins/s", "RSS MB", ""
        ),
        columns.format(
            "issue, before the fix: quiet",
            f"{ISSUE['quiet']['callbacks_per_s']:.1f}",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ),
        columns.format(
            "issue, before the fix: flood",
            f"{ISSUE['flood']['callbacks_per_s']:.1f}",
            "",
            f"{ISSUE['flood']['p95_ms']:.0f}",
            "",
            "",
            str(ISSUE["flood"]["past_5s"]),
            "",
            "",
            f"{ISSUE['flood']['rss_mb']:.0f}",
            "",
        ),
    ]
    for p in r["phases"]:
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(p["login_answers"].items()))
        lines.append(
            columns.format(
                p["phase"],
                f"{p['callbacks_per_s']:.1f}",
                f"{p['p50_ms']:.0f}",
                f"{p['p95_ms']:.0f}",
                f"{p['p99_ms']:.0f}",
                f"{p['max_ms']:.0f}",
                str(p["past_5s"]),
                str(p["late_replies"]),
                f"{p['logins_per_s']:.1f}",
                f"{p['rss_mb']:.0f} (peak {p['peak_rss_mb']:.0f})",
                answers,
            )
        )
        if p["errors"]:
            lines.append(f"    errors: {p['errors']} {p['error_kinds']}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    parser.add_argument("--residents", type=int, default=10, help="residents sending callbacks (default 10)")
    parser.add_argument("--flooders", type=int, default=60, help="concurrent login clients (default 60)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of each flood phase (default 20)")
    parser.add_argument("--quiet", type=float, default=10.0, help="seconds of callbacks alone first (default 10)")
    parser.add_argument(
        "--modes", default="one,many", help="flood phases: one (from 127.0.0.1), many (random X-Forwarded-For)"
    )
    parser.add_argument(
        "--database-url",
        help="postgresql://user@127.0.0.1:5432/any: a fresh shangliang_bench_<random> database is created there"
        " and dropped afterwards (default: a new SQLite file in a temp dir)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line with the figures instead")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="give up after this many seconds")
    args = parser.parse_args(argv)
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if any(m not in {"one", "many"} for m in args.modes):
        parser.error("--modes takes one, many or both (comma-separated)")
    if args.workers < 1 or args.residents < 1 or args.flooders < 1:
        parser.error("--workers, --residents and --flooders must be at least 1")
    return args


def _give_up(signum: int, _frame: FrameType | None) -> None:
    raise BenchError(f"stopped by signal {signum} (time budget or SIGTERM)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGALRM, _give_up)
    signal.signal(signal.SIGTERM, _give_up)
    signal.alarm(int(args.timeout) + 30)
    try:
        result = run(args)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2
    finally:
        signal.alarm(0)
    print(json.dumps(result, ensure_ascii=False) if args.json else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
